package route53

import (
	"context"
	"sync"
	"time"
)

// DefaultRate is how many API calls a Provider starts in any window of
// rateWindow: Route 53 allows 5 requests per second per AWS account and
// answers Throttling above it.
const DefaultRate = 5

// rateWindow is a second and a margin: calls that left 1 s apart can
// arrive closer together after uneven time in transit.
const rateWindow = 1100 * time.Millisecond

// pacer keeps one Provider's calls within Route 53's rate: no more than n
// calls start in any window. A pass of many change batches (a mass event)
// is spread over seconds instead of being throttled and retried after the
// core's backoff. Several goavail processes on one account each keep
// their own pace: only the writer makes change batches, but listings of
// standby agents count against the same account.
type pacer struct {
	mu     sync.Mutex
	n      int
	window time.Duration
	starts []time.Time // the latest n start times, oldest first
}

// newPacer returns a pacer of n calls per window; nil (no pacing) for n < 0.
func newPacer(n int, window time.Duration) *pacer {
	if n < 0 {
		return nil
	}
	if n == 0 {
		n = DefaultRate
	}
	return &pacer{n: n, window: window}
}

// wait reserves the next start time allowed and waits for it, or until
// ctx ends.
func (p *pacer) wait(ctx context.Context) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	now := time.Now()
	at := now
	if len(p.starts) == p.n {
		if t := p.starts[0].Add(p.window); t.After(at) {
			at = t
		}
		p.starts = append(p.starts[:0], p.starts[1:]...)
	}
	p.starts = append(p.starts, at)
	p.mu.Unlock()
	d := at.Sub(now)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
