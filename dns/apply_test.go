package dns

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"
)

// lostAnswer is a memProvider whose first batch is applied but answered
// with a timeout, whose next listing is from before that batch (the
// request sat in transit), and whose retry of the removal is answered
// 81044: the record is already gone.
type lostAnswer struct {
	*memProvider
	sends  int
	before []Record
}

func (l *lostAnswer) Records(ctx context.Context, zone string, types []string) ([]Record, error) {
	if l.sends == 1 && l.before != nil {
		recs := l.before
		l.before = nil
		return recs, nil
	}
	return l.memProvider.Records(ctx, zone, types)
}

func (l *lostAnswer) Apply(ctx context.Context, zone string, creates, deletes []Record) error {
	l.sends++
	switch l.sends {
	case 1:
		l.before, _ = l.memProvider.Records(ctx, zone, []string{"A"})
		_ = l.memProvider.Apply(ctx, zone, creates, deletes)
		return context.DeadlineExceeded
	case 2:
		return &StaleError{Code: 81044, Err: errors.New("81044: record does not exist")}
	}
	return l.memProvider.Apply(ctx, zone, creates, deletes)
}

// TestApply_StaleRetryKeepsTheLostSendsCharge: with max_removals 1, a
// removal whose answer was lost stays charged when its retry is answered
// 81044, so a second record does not go in the same window.
func TestApply_StaleRetryKeepsTheLostSendsCharge(t *testing.T) {
	p := &lostAnswer{memProvider: &memProvider{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"),
		rec("2", "www.example.com", "A", "192.0.2.2"), rec("3", "www.example.com", "A", "192.0.2.3")}}}
	now := time.Unix(1700000000, 0)
	h := &health{h: Health{ip1: false, ip2: false, ip3: true}}
	r := NewReconciler(ReconcilerConfig{Provider: p, Health: h.get, Log: discard(), Now: func() time.Time { return now },
		Safety: Safety{MaxRemovals: 1, RemovalWindow: 10 * time.Minute}})
	r.SetGroups([]Group{{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2, ip3}, TTL: 60}}, time.Minute)
	for i := 0; i < 4; i++ {
		r.Pass(context.Background())
		now = now.Add(500 * time.Millisecond)
	}
	if p.sends != 2 {
		t.Errorf("%d batches sent, want 2 (the lost one and its stale retry)", p.sends)
	}
	if got := p.contents("www.example.com"); got != "192.0.2.2,192.0.2.3" {
		t.Errorf("zone = %s: with max_removals 1, only one record may go in the window", got)
	}
}
