package dns

import (
	"errors"
	"math/rand/v2"
	"time"
)

// maxPace bounds the pause after a pass: as long as the pass's own work
// (report.Work), so that passes kicked back to back (a mass event at
// 100,000 targets kicks one per agreement round) take at most half of a
// core and the garbage of one is collected before the next, yet a
// transition waits at most one pass's work more. Waiting for the API does
// not count: it costs no CPU, and the writer must not slow down for it.
const maxPace = time.Second

// Retry pacing after transient failures (5xx, timeouts, refused
// connections). Cloudflare allows 1,200 requests per 5 minutes per user,
// 4 a second, shared by every agent and tool on the token. A pass costs at
// most requestsPerZone requests per zone (list A, list AAAA, one batch);
// retrying no faster than retryShare requests a second leaves half the
// budget to everything else. So the longest wait between two tries is
// zones × requestsPerZone / retryShare: 1.5 s for one zone, which is also
// about the bound on the delay between the API recovering and the change
// landing. Waits start at minBackoff and double up to it, with jitter
// (each wait drawn from its upper half) so that agents spread apart.
const (
	requestsPerZone = 3
	retryShare      = 2.0 // requests per second
	maxRetryCap     = time.Minute
)

// retryCap is the longest wait between tries for a number of zones.
func retryCap(zones int) time.Duration {
	d := time.Duration(float64(max(zones, 1)*requestsPerZone) / retryShare * float64(time.Second))
	return min(max(d, time.Second), maxRetryCap)
}

// transientBackoff is the wait after the n-th failure in a row (n ≥ 1);
// rnd(k) returns a number in [0, k).
func transientBackoff(n, zones int, rnd func(int64) int64) time.Duration {
	limit := retryCap(zones)
	d := min(minBackoff<<min(n-1, 16), limit)
	return d - time.Duration(rnd(int64(d/2)+1))
}

// backoff records a failure and returns how long to hold all requests.
func (r *Reconciler) backoff(err error) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures++
	var d time.Duration
	var ra *RetryAfterError
	var perm *PermanentError
	switch {
	case errors.As(err, &ra):
		d = min(ra.Wait, maxRetryAfter) // exactly: no request before it, none long after
	case errors.As(err, &perm) && !transientIn(err):
		// The operator must act (credentials, a missing zone): no hold, so
		// the other zones keep up with transitions; the zone itself waits
		// (permhold.go).
		r.holdUntil = r.cfg.Now()
		return r.permanentWait()
	default:
		d = transientBackoff(r.failures, len(zonesOf(r.groups)), rand.Int64N)
	}
	r.holdUntil = r.cfg.Now().Add(d)
	return d
}
