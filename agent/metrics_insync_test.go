package agent

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Route 53's "insync" report is a propagation figure, not an API request:
// it goes to goavail_dns_provider_insync_seconds and never into the
// request counters.
func TestMetrics_InsyncIsNotARequest(t *testing.T) {
	m := &metrics{
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "r"}, []string{"operation", "result"}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "d"}, []string{"operation"}),
		insync:      prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "i"}, []string{"result"}),
	}
	m.apiRequest("batch", nil, 0.2)
	m.apiRequest("insync", nil, 3)
	m.apiRequest("insync", errors.New("never in sync"), 600)
	if n := testutil.CollectAndCount(m.apiRequests); n != 1 {
		t.Errorf("request series = %d, want 1 (the batch only)", n)
	}
	if got := testutil.ToFloat64(m.apiRequests.WithLabelValues("batch", "ok")); got != 1 {
		t.Errorf("batch requests = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(m.insync); n != 2 {
		t.Errorf("insync series = %d, want 2 (insync and error)", n)
	}
}
