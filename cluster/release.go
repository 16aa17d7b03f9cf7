package cluster

import (
	"log/slog"
	"net/netip"
	"slices"

	"github.com/goavail/goavail/monitor"
)

// The release rule.
//
// A hold is a time when DNS does not act on downs: an agent that abstains
// under the isolation guard, or a set of addresses (one hostname's A or
// AAAA records) that DNS keeps because every one of them is down
// (fail-open). A hold ends, is released, when the agent votes again, or
// when an address of the set is agreed up again. At that moment the other
// addresses still carry the "down" decided during the hold: their probes
// run up to one interval behind, so they answer a moment later.
//
// The rule: a state decided while the agent was isolated, or while the
// name was held by fail-open, is not acted on after the release until
// fresh probes confirm it. A down taken into the release (or a run of
// lost probes under way then) counts as a vote again only once its address
// has lost Reconfirm (failure_threshold) probes in a row, all sent after
// the release, as the voter's own view reports them; until then it is no
// vote. An address whose agreed down was held by fail-open is reported
// Unknown (DNS leaves its records as they are) until a quorum of such
// confirmed downs, or of ups, decides it. So the record of an address whose
// latest probe answered is never deleted because of a release.
//
// The bound: an address that really stays down is confirmed when its
// voters have lost Reconfirm more probes, Reconfirm × interval after the
// release, and acted on at the next agreement round (at most view_interval
// later) and the DNS pass it triggers.

// pendingDown is a voter's down on one address, taken into a release and
// not yet confirmed.
type pendingDown struct {
	need int // the lost-in-a-row count at which the down counts again
	last int // the lost-in-a-row count when last seen
}

// releases is what the release rule remembers between rounds.
type releases struct {
	isolated map[string]bool                       // voters seen isolated, not yet released
	pending  map[string]map[netip.Addr]pendingDown // voter → its unconfirmed downs
	held     []bool                                // per Rules.FailOpenSets: every address down, none up
	masked   map[netip.Addr]bool                   // agreed down, reported Unknown until confirmed
}

func newReleases() releases {
	return releases{isolated: map[string]bool{}, pending: map[string]map[netip.Addr]pendingDown{}, masked: map[netip.Addr]bool{}}
}

// observe notes whether the voter v abstains this round; when it stops
// abstaining, every address it reports down or losing probes becomes a
// pending down that needs fall fresh losses in a row.
func (r *releases) observe(v PeerView, isolated bool, fall int) {
	if isolated {
		r.isolated[v.Node] = true
		return
	}
	if !r.isolated[v.Node] {
		return
	}
	delete(r.isolated, v.Node)
	p := map[netip.Addr]pendingDown{}
	for addr, s := range v.States {
		if run := v.Runs[addr]; s == monitor.Down || run > 0 {
			p[addr] = pendingDown{need: run + fall, last: run}
		}
	}
	r.pending[v.Node] = p
}

// vote is the state the voter's view counts as for addr: its own, except a
// pending down that fresh probes have not yet confirmed, which is no vote
// (Unknown). It updates the pending entry: an address that answered its
// latest probe (and is not down) leaves it; a run of losses that started
// again since it was last seen needs only fall losses; a down whose run
// reached its need is confirmed.
func (r *releases) vote(p map[netip.Addr]pendingDown, addr netip.Addr, s monitor.State, run, fall int) monitor.State {
	e, ok := p[addr]
	if !ok {
		return s
	}
	if run < e.last { // the run restarted after the release: all of it is fresh
		e.need = fall
	}
	e.last = run
	switch {
	case s != monitor.Down && run == 0:
		delete(p, addr)
		return s
	case s == monitor.Down && run >= e.need:
		delete(p, addr)
		return s
	}
	p[addr] = e
	if s == monitor.Down {
		return monitor.Unknown
	}
	return s
}

// releaseSets finds the fail-open sets released this round (held in the
// last, now with an address agreed up) and masks their addresses still
// agreed down: each voter's down (or run of losses) on them becomes
// pending. reported is updated in place; local is the configured set.
func (r *releases) releaseSets(sets [][]netip.Addr, reported, local map[netip.Addr]monitor.State, voters []PeerView, fall int) {
	if len(r.held) != len(sets) {
		r.held = make([]bool, len(sets)) // new sets (a reload): no hold known yet
	}
	for i, set := range sets {
		var up, down bool
		for _, addr := range set {
			if _, ok := local[addr]; !ok {
				continue // drained or not watched: not part of the name's answer
			}
			up = up || reported[addr] == monitor.Up
			down = down || reported[addr] == monitor.Down
		}
		if r.held[i] && up {
			for _, addr := range set {
				if _, ok := local[addr]; !ok || reported[addr] != monitor.Down {
					continue
				}
				r.masked[addr] = true
				reported[addr] = monitor.Unknown
				for _, v := range voters {
					if run := v.Runs[addr]; v.States[addr] == monitor.Down || run > 0 {
						if r.pending[v.Node] == nil {
							r.pending[v.Node] = map[netip.Addr]pendingDown{}
						}
						r.pending[v.Node][addr] = pendingDown{need: run + fall, last: run}
					}
				}
			}
		}
		r.held[i] = down && !up
	}
}

// prune forgets pending downs and masks of addresses no longer watched.
func (r *releases) prune(local map[netip.Addr]monitor.State) {
	for node, p := range r.pending {
		for addr := range p {
			if _, ok := local[addr]; !ok {
				delete(p, addr)
			}
		}
		if len(p) == 0 {
			delete(r.pending, node)
		}
	}
	for addr := range r.masked {
		if _, ok := local[addr]; !ok {
			delete(r.masked, addr)
		}
	}
}

// Runs returns, for each address whose latest probes were lost, how many
// were lost in a row; addresses that answered their latest probe are absent.
func (v View) Runs() map[netip.Addr]int {
	out := map[netip.Addr]int{}
	for _, e := range v.Entries {
		if e.Evidence.FailRun > 0 {
			out[e.Addr] = e.Evidence.FailRun
		}
	}
	return out
}

// logReleases says when this agent votes again after abstaining, and which
// addresses a fail-open release holds, so that an operator knows why a
// down is not acted on yet.
func logReleases(log *slog.Logger, prev, d Decision, rules Rules) {
	if prev.LocalIsolated && !d.LocalIsolated {
		log.Info("this agent votes again: the downs it decided while it abstained count once their addresses have lost failure_threshold probes in a row since",
			"failure_threshold", max(rules.Reconfirm, 1))
	}
	for _, a := range d.Held {
		if !slices.Contains(prev.Held, a) {
			log.Info("fail-open released: this address's down, decided while the name was held, waits for fresh probes; its records stay meanwhile",
				"addr", a, "failure_threshold", max(rules.Reconfirm, 1))
		}
	}
}
