package dns

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestReconciler_NoBatchAfterASuspendTheTimerMissed: a fence's context
// may learn that its lease ended only when Err reads the lease's clock (a
// system suspend stops the process's timers, not CLOCK_BOOTTIME). Here the
// host is suspended right after the batch's fence read the clock: its
// context's timer has not fired, but Err says the lease is over. The batch
// check reads Err last, right before the send, and sends nothing.
func TestReconciler_NoBatchAfterASuspendTheTimerMissed(t *testing.T) {
	zone := &memProvider{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"), rec("2", "www.example.com", "A", "192.0.2.2")}}
	suspended := errors.New("the lease ended by CLOCK_BOOTTIME during a suspend")
	fences := 0
	r := NewReconciler(ReconcilerConfig{Provider: zone, Health: func() Health { return Health{ip1: true, ip2: false} }, Log: discard(),
		Writer: func() (bool, string) { return true, "me" },
		Fence: func(ctx context.Context) (context.Context, context.CancelFunc, error) {
			fences++
			c, cancel := context.WithCancelCause(ctx)
			if fences == 2 { // the batch's fence: the host sleeps once it is taken
				cancel(suspended)
			}
			return c, func() { cancel(nil) }, nil
		}})
	r.SetGroups([]Group{small}, time.Minute)
	rep := r.Pass(context.Background())
	if fences != 2 {
		t.Fatalf("%d fences, want the zone's and the batch's", fences)
	}
	if zone.applies != 0 {
		t.Errorf("a batch was sent under a lease that ended in a suspend")
	}
	if !errors.Is(rep.Err, ErrLeaseEnded) || !errors.Is(rep.Err, suspended) {
		t.Errorf("err %v, want ErrLeaseEnded with the fence's cause", rep.Err)
	}
}
