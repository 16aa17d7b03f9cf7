package dns

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// A zone's listing can take longer than one lease link (a large zone, a
// slow API): bounded by the first fence alone, it would be cancelled on
// every pass, and a quorate cluster would never write. So the listing runs
// under a chain of fences renewed while it lasts, as batches chain theirs
// (fenceBatch): each new link is taken while the previous one still runs.
// The listing's own context ends only when the chain breaks (a link ended
// before its successor was taken), and the plan and the first batch are
// checked against the latest link: a batch still goes only on a listing
// made under leases held without a gap.

// minRenewWait bounds how often a failing renewal is tried again while its
// link still runs.
const minRenewWait = 10 * time.Millisecond

// listChain renews the fence chain from link while the zone is listed
// under lctx, which ends only when the chain breaks. Without a fenced link
// lctx is link and nothing is renewed.
type listChain struct {
	lctx context.Context
	stop context.CancelCauseFunc
	done chan struct{}
	out  chan chainLinks
	once sync.Once
	c    chainLinks
}

type chainLinks struct {
	latest  context.Context
	cancels []context.CancelFunc
}

// listUnderChain starts renewing the fence chain from link; list under
// lc.lctx, then call lc.finish.
func (r *Reconciler) listUnderChain(link context.Context) *listChain {
	lc := &listChain{lctx: link, c: chainLinks{latest: link}}
	parent, ok := link.Value(chainKey{}).(context.Context)
	if !ok || r.cfg.Fence == nil {
		return lc
	}
	lc.lctx, lc.stop = context.WithCancelCause(parent)
	lc.done, lc.out = make(chan struct{}), make(chan chainLinks, 1)
	go func() {
		c := chainLinks{latest: link}
		defer func() { lc.out <- c }()
		for {
			t := r.cfg.Clock.NewTimer(renewIn(c.latest, r.cfg.Clock.Now()))
			select {
			case <-lc.done:
				t.Stop()
				return
			case <-c.latest.Done():
				t.Stop()
				lc.stop(fmt.Errorf("%w (%w)", ErrLeaseEnded, context.Cause(c.latest)))
				return
			case <-t.C():
			}
			next, cancel, err := r.fenceBatch(c.latest)
			switch {
			case errors.Is(err, ErrLeaseEnded):
				lc.stop(err)
				return
			case err == nil:
				c.latest, c.cancels = next, append(c.cancels, cancel)
			} // else not renewed now (the lease ends too soon to say yes): try again while the link runs
		}
	}()
	return lc
}

// finish stops the renewals once the listing is over, and returns the
// latest link, to plan and send under; or an error wrapping ErrLeaseEnded
// when the chain broke during the listing (the listing is then of no use).
func (lc *listChain) finish() (context.Context, error) {
	lc.once.Do(func() {
		if lc.done != nil {
			close(lc.done)
			lc.c = <-lc.out
		}
	})
	if lc.stop == nil {
		return lc.c.latest, nil
	}
	if cause := context.Cause(lc.lctx); lc.lctx.Err() != nil && errors.Is(cause, ErrLeaseEnded) {
		return lc.c.latest, fmt.Errorf("zone listed under a broken lease chain: %w", cause)
	}
	return lc.c.latest, nil
}

// listErr is the listing's error err, or the broken chain's if it broke.
func (lc *listChain) listErr(err error) error {
	if _, lerr := lc.finish(); lerr != nil {
		return lerr
	}
	return err
}

// cancel stops the renewals and ends every link they took.
func (lc *listChain) cancel() {
	lc.finish()
	for _, f := range lc.c.cancels {
		f()
	}
	if lc.stop != nil {
		lc.stop(nil)
	}
}

// renewIn is how long to wait before renewing link at now: half the time
// it has left, so a renewal that fails is tried again while it runs. A link
// with no deadline needs no renewal.
func renewIn(link context.Context, now time.Time) time.Duration {
	dl, ok := link.Deadline()
	if !ok {
		return time.Hour // ended only by its parent, which Done reports
	}
	return max(dl.Sub(now)/2, minRenewWait)
}
