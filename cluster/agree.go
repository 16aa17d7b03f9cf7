package cluster

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/goavail/goavail/monitor"
)

// Rules are the agreement settings, the same on every agent.
type Rules struct {
	// MinPeersAgree is how many other agents must share a state before it
	// counts: a state needs MinPeersAgree+1 votes.
	MinPeersAgree int
	// StaleAfter is how old (by the receiver's clock) a peer's view may be
	// and still vote.
	StaleAfter time.Duration
	// IsolationThreshold: an agent that watches at least
	// IsolationMinTargets addresses and sees at least this fraction of the
	// decided ones down abstains. 0 turns the guard off.
	IsolationThreshold float64
	// Reconfirm is how many probes in a row an address must lose after a
	// release (see release.go) before a down decided during the hold counts
	// again: failure_threshold. Less than 1 counts as 1.
	Reconfirm int
	// FailOpenSets are the address sets DNS never empties (one hostname's
	// A or AAAA addresses, see dns.Plan): when one was held by fail-open,
	// the agreed up of one of its addresses releases it (see release.go).
	FailOpenSets [][]netip.Addr
}

// IsolationMinTargets is the fewest watched addresses for which the
// isolation guard applies: with one or two, all of them down is an ordinary
// outage, not a sign of a broken uplink.
const IsolationMinTargets = 3

// PeerView is what the agreement needs to know about one agent.
type PeerView struct {
	Node     string
	Alive    bool      // memberlist has not declared it dead or gone
	Received time.Time // when its latest view arrived, by this agent's clock
	States   map[netip.Addr]monitor.State
	// Runs are the probes lost in a row per address, for those whose
	// latest probe was lost (see View.Runs); the release rule reads them.
	Runs map[netip.Addr]int
	// Failing counts addresses not (yet) down whose latest probes were lost.
	Failing int
	// NotReady: the agent said it could not write (its own agreement is
	// not quorate), so it is not chosen as writer, though it votes.
	NotReady bool
	// Duplicate: another agent uses the same node name; the agent neither
	// votes nor is chosen until that ends.
	Duplicate bool
}

// Isolated reports whether an agent abstains: it watches at least
// IsolationMinTargets addresses, and of those it has an opinion on, at
// least threshold are down or failing (losing their latest probes). Counting
// the failing ones makes the guard trip when the first address of a broken
// uplink goes down, not after the others have followed.
func Isolated(v PeerView, threshold float64) bool {
	if threshold <= 0 || len(v.States) < IsolationMinTargets {
		return false
	}
	var known, down int
	for _, s := range v.States {
		switch s {
		case monitor.Down:
			down++
			known++
		case monitor.Up:
			known++
		}
	}
	// Failing addresses are up or still unknown: count them as seen, and
	// as going down.
	known += min(v.Failing, len(v.States)-known)
	down += v.Failing
	return known >= IsolationMinTargets && float64(down) >= threshold*float64(known)
}

// Decision is the outcome of one agreement round.
type Decision struct {
	// States is what DNS acts on. An address that has never been agreed on
	// is Unknown, and DNS leaves its records as they are.
	States map[netip.Addr]monitor.State
	// Writer is the agent this one wants as writer: the lowest name among
	// the voting agents it can see that say they could write. It is this
	// agent's ballot; the writer is the agent that holds the writer lease
	// (see Elector), and it writes only while its own agreement is Quorate.
	Writer string
	// Quorate says the voting agents this one can see are enough to agree
	// (at least MinPeersAgree+1). Across a partition, only a side that has
	// a quorum writes, so with MinPeersAgree+1 above half the agents two
	// sides can never both write.
	Quorate bool
	// Voters are the agents whose views counted, this one included when it
	// does not abstain; sorted.
	Voters []string
	// Abstaining, Stale and Dead name peers whose views did not count,
	// and why; sorted. LocalIsolated says this agent abstained.
	Abstaining, Stale, Dead []string
	LocalIsolated           bool
	// Duplicates name peers that share their node name with another
	// agent; LocalDuplicate says this agent's own name is shared. Neither
	// votes.
	Duplicates     []string
	LocalDuplicate bool
	// Changed lists the addresses whose agreed state changed this round.
	Changed []netip.Addr
	// Held lists the addresses whose agreed down, decided while their name
	// was held by fail-open, waits for fresh probes after the release
	// (release.go); States says Unknown for them meanwhile. Sorted.
	Held []netip.Addr
}

// Agreement remembers the last agreed state of every address, so that an
// address keeps it until enough agents agree on another. It is pure: the
// caller passes the time and the views. It is not safe for concurrent use.
type Agreement struct {
	rules  Rules
	agreed map[netip.Addr]monitor.State
	// quorateAt is when the last quorate round ran: agreed states are
	// forgotten StaleAfter after it (see Decide).
	quorateAt time.Time
	// rel holds the downs that a release keeps from acting (release.go).
	rel releases
}

// NewAgreement returns an Agreement that has agreed on nothing yet.
func NewAgreement(r Rules) *Agreement {
	return &Agreement{rules: r, agreed: map[netip.Addr]monitor.State{}, rel: newReleases()}
}

// SetRules changes the rules; agreed states are kept.
func (a *Agreement) SetRules(r Rules) { a.rules = r }

// Decide runs one round for the agent self (whose Alive and Received are
// ignored). An address's agreed state becomes Down (or Up)
// when at least MinPeersAgree+1 voting agents see it so: this agent and
// MinPeersAgree others, or, when this agent sees otherwise or abstains,
// MinPeersAgree+1 others (the writer acts for the cluster, so a healthy
// path on the writer alone does not veto a majority). If both states reach
// the quorum, this agent's own view settles it; if it cannot, nothing
// changes. Without a quorum the last agreed state stands for StaleAfter;
// after that it is forgotten (Unknown, which DNS leaves alone), since the
// quorum may have agreed otherwise meanwhile.
//
// Voters are this agent (unless isolated) and every peer that is alive,
// whose view is fresher than StaleAfter and that is not isolated. Addresses
// are those in local, the agent's configured set; others are forgotten.
// After a release (a voter stops abstaining, or a fail-open set gets an
// address up), the downs decided during the hold wait for fresh probes:
// see release.go.
func (a *Agreement) Decide(now time.Time, self PeerView, peers []PeerView) Decision {
	local := self.States
	fall := max(a.rules.Reconfirm, 1)
	d := Decision{LocalIsolated: Isolated(self, a.rules.IsolationThreshold), LocalDuplicate: self.Duplicate}
	var voters []PeerView
	candidates := []string{}
	if !d.LocalDuplicate {
		a.rel.observe(self, d.LocalIsolated, fall)
	}
	if !d.LocalIsolated && !d.LocalDuplicate {
		voters = append(voters, self)
		d.Voters = append(d.Voters, self.Node)
		candidates = append(candidates, self.Node)
	}
	var isolatedLive []string
	for _, p := range peers {
		switch {
		case p.Duplicate:
			d.Duplicates = append(d.Duplicates, p.Node)
		case !p.Alive:
			d.Dead = append(d.Dead, p.Node)
		case now.Sub(p.Received) > a.rules.StaleAfter:
			d.Stale = append(d.Stale, p.Node)
		case Isolated(p, a.rules.IsolationThreshold):
			a.rel.observe(p, true, fall)
			d.Abstaining = append(d.Abstaining, p.Node)
			isolatedLive = append(isolatedLive, p.Node)
		default:
			a.rel.observe(p, false, fall)
			voters = append(voters, p)
			d.Voters = append(d.Voters, p.Node)
			if !p.NotReady {
				candidates = append(candidates, p.Node)
			}
		}
	}
	if len(candidates) == 0 && len(d.Voters) == 0 { // everyone abstains: the writer is still the lowest live name
		candidates = append([]string{self.Node}, isolatedLive...)
	}
	if len(candidates) == 0 {
		candidates = append(candidates, slices.Min(d.Voters))
	}
	d.Writer = slices.Min(candidates)
	d.Quorate = len(d.Voters) >= a.rules.MinPeersAgree+1
	for _, s := range []*[]string{&d.Voters, &d.Abstaining, &d.Stale, &d.Dead, &d.Duplicates} {
		slices.Sort(*s)
	}

	a.forgetStale(now, d.Quorate)
	a.rel.prune(local)
	pending := make([]map[netip.Addr]pendingDown, len(voters))
	for i, v := range voters {
		pending[i] = a.rel.pending[v.Node]
	}
	wasMasked := maps.Clone(a.rel.masked)
	need := a.rules.MinPeersAgree + 1
	next := make(map[netip.Addr]monitor.State, len(local))
	for addr, mine := range local {
		var up, down int
		for i, v := range voters {
			s := v.States[addr]
			if pending[i] != nil {
				s = a.rel.vote(pending[i], addr, s, v.Runs[addr], fall)
			}
			switch s {
			case monitor.Up:
				up++
			case monitor.Down:
				down++
			}
		}
		state := a.agreed[addr]
		switch {
		case up >= need && down >= need:
			if !d.LocalIsolated && !d.LocalDuplicate && mine != monitor.Unknown {
				state = mine
			}
		case up >= need:
			state = monitor.Up
		case down >= need:
			state = monitor.Down
		}
		next[addr] = state
		if a.rel.masked[addr] && (state != monitor.Down || down >= need) {
			delete(a.rel.masked, addr) // decided again, by fresh probes
		}
	}
	reported := maps.Clone(next)
	for addr := range a.rel.masked {
		reported[addr] = monitor.Unknown
	}
	a.rel.releaseSets(a.rules.FailOpenSets, reported, local, voters, fall)
	for addr, state := range reported {
		prev := a.agreed[addr]
		if wasMasked[addr] {
			prev = monitor.Unknown
		}
		if state != prev {
			d.Changed = append(d.Changed, addr)
		}
	}
	slices.SortFunc(d.Changed, netip.Addr.Compare)
	for addr := range a.rel.masked {
		d.Held = append(d.Held, addr)
	}
	slices.SortFunc(d.Held, netip.Addr.Compare)
	a.agreed = next
	d.States = reported
	return d
}

// String summarises a decision for logs.
func (d Decision) String() string {
	return fmt.Sprintf("writer=%s quorate=%v voters=%v abstaining=%v stale=%v dead=%v duplicates=%v isolated=%v duplicate=%v", d.Writer, d.Quorate, d.Voters, d.Abstaining, d.Stale, d.Dead, d.Duplicates, d.LocalIsolated, d.LocalDuplicate)
}
