package dns

import (
	"math"
	"net/netip"
	"slices"
	"time"
)

// Damping holds a flapping address out of DNS, in the manner of BGP route
// flap damping: each time an address goes from up to down it gains a
// penalty of 1, which halves every HalfLife; at Suppress it is held down
// (its records stay out) until the penalty has decayed below Reuse. The
// penalty is capped at Reuse × 16, so an address that stops flapping is
// back within four half-lives. The zero value (HalfLife 0) turns damping
// off.
type Damping struct {
	HalfLife time.Duration
	Suppress float64
	Reuse    float64
}

// maxHoldFactor caps a penalty at Reuse × 16: four half-lives of quiet
// always release an address.
const maxHoldFactor = 16

type penalty struct {
	value      float64
	at         time.Time
	suppressed bool
}

// damper applies Damping pass by pass. It is pure: the caller passes the
// time. Not safe for concurrent use.
type damper struct {
	cfg  Damping
	pen  map[netip.Addr]*penalty
	last Health
}

func newDamper(cfg Damping) *damper {
	return &damper{cfg: cfg, pen: map[netip.Addr]*penalty{}, last: Health{}}
}

// dampEvent reports an address entering or leaving suppression.
type dampEvent struct {
	Addr       netip.Addr
	Suppressed bool
	Penalty    float64
	Until      time.Time // when it will be released if it stays quiet
}

func (d *damper) decayed(p *penalty, now time.Time) float64 {
	if d.cfg.HalfLife <= 0 || p.value == 0 {
		return p.value
	}
	return p.value * math.Exp2(-float64(now.Sub(p.at))/float64(d.cfg.HalfLife))
}

// apply returns h with suppressed addresses forced down, and the changes
// in suppression.
func (d *damper) apply(now time.Time, h Health) (Health, []dampEvent) {
	if d.cfg.HalfLife <= 0 {
		return h, nil
	}
	// Penalties exist only for addresses that have flapped: at 100,000
	// addresses one for each was a tenth of the agent's heap.
	var events []dampEvent
	suppressed := 0
	for a, up := range h {
		p := d.pen[a]
		was, ok := d.last[a]
		flap := ok && was && !up
		if p == nil {
			if !flap {
				continue
			}
			p = &penalty{at: now}
			d.pen[a] = p
		}
		p.value, p.at = d.decayed(p, now), now
		if flap {
			p.value = min(p.value+1, d.cfg.Reuse*maxHoldFactor)
		}
		switch {
		case !p.suppressed && p.value >= d.cfg.Suppress:
			p.suppressed = true
			events = append(events, dampEvent{Addr: a, Suppressed: true, Penalty: p.value, Until: now.Add(d.releaseIn(p.value))})
		case p.suppressed && p.value < d.cfg.Reuse:
			p.suppressed = false
			events = append(events, dampEvent{Addr: a, Penalty: p.value})
		}
		if p.suppressed {
			suppressed++
		}
	}
	for a, p := range d.pen {
		if _, ok := h[a]; !ok && d.decayed(p, now) < d.cfg.Reuse/16 {
			delete(d.pen, a) // long quiet and no longer known: forget
		}
	}
	d.last = h
	if suppressed == 0 {
		return h, events // nothing held out: the caller's map as it is
	}
	out := make(Health, len(h))
	for a, up := range h {
		p := d.pen[a]
		out[a] = up && (p == nil || !p.suppressed)
	}
	return out, events
}

// releaseIn is how long a penalty takes to decay below Reuse.
func (d *damper) releaseIn(v float64) time.Duration {
	if v <= d.cfg.Reuse {
		return 0
	}
	return time.Duration(math.Log2(v/d.cfg.Reuse) * float64(d.cfg.HalfLife))
}

// budget bounds removals across all zones: at most max distinct records
// in any window. A removal is charged before it is sent, by record id, so
// a removal the API applied but never acknowledged still counts, and a
// retry of the same removal is not charged twice. It is refunded only when
// the API definitely did not apply it. Zero max means no bound. Pure; not
// safe for concurrent use.
type budget struct {
	max    int
	window time.Duration
	spent  []charge // oldest first
}

type charge struct {
	at time.Time
	id string
}

func (b *budget) prune(now time.Time) {
	cut := 0
	for cut < len(b.spent) && now.Sub(b.spent[cut].at) >= b.window {
		cut++
	}
	b.spent = b.spent[cut:]
}

func (b *budget) charged(id string) bool {
	return slices.ContainsFunc(b.spent, func(c charge) bool { return c.id == id })
}

// split returns the removals that may be sent now (those already charged
// in the window, then new ones while the budget lasts) and those that must
// wait.
func (b *budget) split(now time.Time, dels []Record) (ok, wait []Record) {
	if b.max <= 0 {
		return dels, nil
	}
	b.prune(now)
	room := b.max - len(b.spent)
	for _, d := range dels {
		switch {
		case b.charged(d.ID):
			ok = append(ok, d)
		case room > 0:
			ok = append(ok, d)
			room--
		default:
			wait = append(wait, d)
		}
	}
	return ok, wait
}

// charge counts removals about to be sent, and returns the ids it charged
// now: a removal already charged by an earlier send (whose answer may have
// been lost) is not charged again, and is not this send's to refund.
func (b *budget) charge(now time.Time, ids []string) []string {
	if b.max <= 0 {
		return nil
	}
	var fresh []string
	for _, id := range ids {
		if !b.charged(id) {
			b.spent = append(b.spent, charge{now, id})
			fresh = append(fresh, id)
		}
	}
	return fresh
}

// refund uncounts removals the API definitely did not apply.
func (b *budget) refund(ids []string) {
	b.spent = slices.DeleteFunc(b.spent, func(c charge) bool { return slices.Contains(ids, c.id) })
}
