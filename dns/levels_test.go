package dns

import (
	"context"
	"strings"
	"testing"
)

// TestReconciler_LogLevelsForOnCall: a live agent logs a deleted record at
// WARN (it was INFO, like every probe line), a created one at INFO, and
// says once after each change that the zone's records match, as a dry run
// does (a live agent in step used to log nothing).
func TestReconciler_LogLevelsForOnCall(t *testing.T) {
	p := &memProvider{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"), rec("2", "www.example.com", "A", "192.0.2.2")}}
	r, h, logs := newRec(t, p, false)
	ctx := context.Background()
	r.Pass(ctx)
	r.Pass(ctx)
	if n := strings.Count(logs.String(), `level=INFO msg="dns records match the desired state" zone=example.com`); n != 1 {
		t.Fatalf("in step at start: %d lines, want 1:\n%s", n, logs)
	}
	h.set(ip1, false)
	r.Pass(ctx)
	if !strings.Contains(logs.String(), `level=WARN msg="dns record deleted" zone=example.com action=delete`) {
		t.Errorf("a deletion is not WARN:\n%s", logs)
	}
	r.Pass(ctx)
	r.Pass(ctx)
	if n := strings.Count(logs.String(), `msg="dns records match the desired state"`); n != 2 {
		t.Errorf("in step after the change: %d lines in all, want 2 (once at start, once after the change):\n%s", n, logs)
	}
	h.set(ip1, true)
	r.Pass(ctx)
	if !strings.Contains(logs.String(), `level=INFO msg="dns record created"`) {
		t.Errorf("a creation is not INFO:\n%s", logs)
	}
}
