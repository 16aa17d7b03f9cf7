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
// most requestsPerZone requests per zone (read the fence, list A, list
// AAAA, one batch); retrying no faster than retryShare requests a second
// leaves half the budget to everything else. So the SHORTEST wait between
// two tries is zones × requestsPerZone / retryShare: 2 s for one zone. The
// wait doubles from it to retryGrowth times it (4 s for one zone), never
// past maxRetryCap, and each wait is drawn from [base, 1.5 × base] so that
// agents spread apart without ever going faster than the share. The API
// coming back is then noticed within 1.5 × retryGrowth × the floor (6 s for
// one zone).
const (
	requestsPerZone = 4
	retryShare      = 2.0 // requests per second
	retryGrowth     = 2
	maxRetryCap     = time.Minute
)

// retryFloor is the shortest wait between tries for a number of zones.
func retryFloor(zones int) time.Duration {
	d := time.Duration(float64(max(zones, 1)*requestsPerZone) / retryShare * float64(time.Second))
	return min(d, maxRetryCap)
}

// transientBackoff is the wait after the n-th failure in a row (n ≥ 1);
// rnd(k) returns a number in [0, k).
func transientBackoff(n, zones int, rnd func(int64) int64) time.Duration {
	floor := retryFloor(zones)
	top := max(floor, min(floor*retryGrowth, maxRetryCap))
	d := min(floor<<min(n-1, 16), top)
	return d + time.Duration(rnd(int64(d/2)+1))
}

// A 429 that names no wait (or says 0) is held for rateLimitFloor, and
// every further 429 in a row (without a good pass between) doubles that
// floor up to rateLimitMax, Cloudflare's 5-minute budget window: a token
// whose budget is spent must not be asked again at once, nor every second
// for five minutes. A Retry-After longer than the floor is honoured
// exactly.
const (
	rateLimitFloor = 2 * time.Second
	rateLimitMax   = 5 * time.Minute
)

// rateLimitHold is the hold after the n-th 429 in a row (n ≥ 1) whose
// Retry-After said wait.
func rateLimitHold(n int, wait time.Duration) time.Duration {
	floor := min(rateLimitFloor<<min(n-1, 16), rateLimitMax)
	return min(max(wait, floor), maxRetryAfter)
}

// windowTries is how many throttles in a row of a provider with a short
// rate window (RetryAfterError.Window) are held for one window each
// before the hold doubles: agents listing at the same moment (every
// standby lists when the agreed state changes) spend the window, not the
// account's budget.
const windowTries = 3

// windowHold is the hold after the n-th throttle in a row (n ≥ 1) of a
// provider whose rate window is w; rnd(k) returns a number in [0, k).
func windowHold(n int, w time.Duration, rnd func(int64) int64) time.Duration {
	d := min(w<<min(max(n-windowTries, 0), 16), rateLimitMax)
	return d + time.Duration(rnd(int64(d/2)+1))
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
		r.limited++
		d = rateLimitHold(r.limited, ra.Wait) // exactly: no request before it, none long after
		if ra.Window > 0 && ra.Wait <= 0 {
			d = windowHold(r.limited, ra.Window, rand.Int64N)
		}
		r.rateUntil = r.cfg.Now().Add(d)
	case errors.As(err, &perm) && !transientIn(err):
		// The operator must act (credentials, a missing zone): no hold, so
		// the other zones keep up with transitions; the zone itself waits
		// (permhold.go).
		r.holdUntil = r.cfg.Now()
		return r.standby(r.permanentWait())
	default:
		d = transientBackoff(r.failures, len(zonesOf(r.groups)), rand.Int64N)
	}
	r.holdUntil = r.cfg.Now().Add(d)
	return r.standby(d)
}

// RateLimited reports whether the API asked for no request now: a 429's
// hold is running. Other users of the API on the same token (the
// propagation check's zone look-ups) wait for it too.
func (r *Reconciler) RateLimited() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg.Now().Before(r.rateUntil)
}

// standby stretches the wait after a failed pass of a standby agent (one
// that is not the writer) to the reconcile period: it only lists, and
// must not spend the token's budget at the writer's retry pace. The hold
// itself stays as it was, so that if this agent becomes the writer a kick
// runs its pass then (see Run). Called with r.mu held.
func (r *Reconciler) standby(d time.Duration) time.Duration {
	if r.last.Mode != ModeStandby {
		r.standbyUntil = time.Time{}
		return d
	}
	d = max(d, r.period)
	r.standbyUntil = r.cfg.Now().Add(d)
	return d
}

// standbyHold is how long a standby agent whose last pass failed still
// waits, if it is still not the writer: kicks do not make it list sooner.
func (r *Reconciler) standbyHold() time.Duration {
	r.mu.Lock()
	wait := r.standbyUntil.Sub(r.cfg.Now())
	r.mu.Unlock()
	if wait <= 0 || r.cfg.Writer == nil {
		return 0
	}
	if me, _ := r.cfg.Writer(); me {
		return 0
	}
	return wait
}
