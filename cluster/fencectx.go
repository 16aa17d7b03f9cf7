package cluster

import (
	"context"
	"errors"
	"time"
)

// errLeaseEnded and errLeaseEndedInSuspend are the causes (context.Cause)
// of a fence's context that ended with its lease.
var (
	errLeaseEnded          = errors.New("the writer lease ended")
	errLeaseEndedInSuspend = errors.New("the writer lease ended by CLOCK_BOOTTIME, while the process's timers had not seen it end (a system suspend)")
)

// fenceCtx is the context Fence returns. Its deadline (a timer of the
// process, on the monotonic clock) ends it when the lease ends; but the
// monotonic clock stops in a system suspend, where the lease's clock (Mono,
// CLOCK_BOOTTIME) does not, so after a resume the timer alone would leave
// the context live under a lease long over. Err therefore also reads the
// lease's clock, and ends the context (Done closes, the cause says why)
// once the lease is over by it: the writer reads Err right before each
// request is handed to the provider (dns fenceBatch).
type fenceCtx struct {
	context.Context
	end   context.CancelCauseFunc
	until time.Time        // the lease's end, a Mono reading
	mono  func() time.Time // the lease's clock
}

// newFenceCtx returns a context that ends at deadline by the process's
// timers, or when Err finds mono past until, whichever comes first.
func newFenceCtx(parent context.Context, deadline, until time.Time, mono func() time.Time) (context.Context, context.CancelFunc) {
	cctx, end := context.WithCancelCause(parent)
	dctx, cancel := context.WithDeadlineCause(cctx, deadline, errLeaseEnded)
	return &fenceCtx{Context: dctx, end: end, until: until, mono: mono}, func() { cancel(); end(nil) }
}

// Err is the context's error, after ending it if the lease is over by its
// own clock.
func (f *fenceCtx) Err() error {
	if f.Context.Err() == nil && !f.mono().Before(f.until) {
		f.end(errLeaseEndedInSuspend)
	}
	return f.Context.Err()
}
