package dns

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// A zone whose pass failed with a PermanentError (a refused credential, a
// missing zone) is not asked again before permanentWait has passed, even
// when a transition kicks a pass sooner: the other zones keep up with
// transitions, and the zone is retried when the log line said it would be
// (retry_in). A change of the groups (a reload) releases every held zone.

// zoneHold is a zone's permanent error and when it may be retried.
type zoneHold struct {
	err   error
	until time.Time
}

// permanentWait is how long a zone waits after a permanent error: the
// reconcile period, at most 20 times the transient retry floor. Called with
// r.mu held.
func (r *Reconciler) permanentWait() time.Duration {
	return min(r.period, retryFloor(len(zonesOf(r.groups)))*20)
}

// holdIfPermanent holds zone after err when err is permanent only.
func (r *Reconciler) holdIfPermanent(zone string, err error) {
	var perm *PermanentError
	if !errors.As(err, &perm) || transientIn(err) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.held[zone] = zoneHold{err: err, until: r.cfg.Now().Add(r.permanentWait())}
}

// heldZone returns the held zone's error, saying when it is retried, or
// nil when the zone is not held at now.
func (r *Reconciler) heldZone(zone string, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.held[zone]
	if !ok {
		return nil
	}
	if !now.Before(h.until) {
		delete(r.held, zone)
		return nil
	}
	return fmt.Errorf("%w (not asked again before %s)", h.err, h.until.Format(time.RFC3339))
}

// nextRelease is when the earliest held zone may be retried.
func (r *Reconciler) nextRelease() (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var at time.Time
	for _, h := range r.held {
		if at.IsZero() || h.until.Before(at) {
			at = h.until
		}
	}
	return at, !at.IsZero()
}

// heldWaits says how long each held zone still waits ("example.com=30s"),
// sorted by zone.
func (r *Reconciler) heldWaits() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	var out []string
	for z, h := range r.held {
		out = append(out, z+"="+h.until.Sub(now).Round(time.Millisecond).String())
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
