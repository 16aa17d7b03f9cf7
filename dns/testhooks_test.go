package dns

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestTestHooks: with GOAVAIL_TEST_SKIP_LEASE_CHECK=1 a batch goes out
// although the fence before it says the lease is lost (without it, it does
// not); GOAVAIL_TEST_PAUSE_BEFORE_SEND holds the batch at least that long
// after the check.
func TestTestHooks(t *testing.T) {
	pass := func(skip, pause string) (*memProvider, time.Duration) {
		t.Setenv(TestSkipLeaseCheckEnv, skip)
		t.Setenv(TestPauseBeforeSendEnv, pause)
		zone := &memProvider{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"), rec("2", "www.example.com", "A", "192.0.2.2")}}
		fences := 0
		r := NewReconciler(ReconcilerConfig{Provider: zone, Health: func() Health { return Health{ip1: false, ip2: true} }, Log: discard(),
			Writer: func() (bool, string) { return true, "A" },
			Fence: func(ctx context.Context) (context.Context, context.CancelFunc, error) {
				if fences++; fences > 1 {
					return ctx, func() {}, errors.New("writer lease lost")
				}
				return ctx, func() {}, nil
			}})
		r.SetGroups([]Group{small}, time.Minute)
		start := time.Now()
		r.Pass(context.Background())
		return zone, time.Since(start)
	}
	if zone, _ := pass("", ""); zone.applies != 0 {
		t.Errorf("a batch went out after the lease check failed: %d applies", zone.applies)
	}
	zone, took := pass("1", "300ms")
	if zone.applies != 1 {
		t.Errorf("with the lease check skipped: %d applies, want 1", zone.applies)
	}
	if took < 300*time.Millisecond {
		t.Errorf("the pass took %s with a 300ms pause before the send", took)
	}
}
