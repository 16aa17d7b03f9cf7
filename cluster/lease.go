package cluster

import (
	"slices"
	"time"
)

// The writer lease. At most one agent writes DNS at any moment: the one
// that holds a lease. A lease is a set of endorsements; each voter's latest
// view names (Ballot.Vote) the agent it endorses, and an endorser that has
// named an agent names no other until Length has passed since it last did,
// by its own monotonic clock (and names no one at all for Length after it
// starts, so a restart forgets no promise). An agent holds the lease while
// at least Need endorsements name it, each counted until the monotonic time
// this agent sent the view the endorsement echoes, plus Length, minus
// Margin (for clock rates and transit). With Need a strict majority of the
// configured agents, two holders would need two majorities, which share an
// endorser, and that endorser names one agent at a time: its promise to the
// first runs past every endorsement the first counts (the echoed view was
// sent before the endorsement was made). So leases never overlap.
//
// All times here are monotonic readings passed in by the caller.

// Echo is the position of one agent's view, as another agent last saw it.
type Echo struct {
	Inc, Seq uint64
}

// Ballot is what one agent's view says about the writer.
type Ballot struct {
	// Vote names the agent the sender endorses; "" endorses no one.
	Vote string
	// Term of the vote: it grows each time the sender names a new agent.
	Term uint64
	// Echo is the position of the receiver's view the sender had last
	// seen when it made the vote.
	Echo Echo
}

// Lease is what Elector.Lease reports.
type Lease struct {
	Held      bool
	Until     time.Time // monotonic; the lease ends then unless renewed
	Term      uint64    // the highest term among the counted endorsements
	Endorsers []string  // sorted
}

// Elector is one agent's side of the lease protocol. It is pure (the caller
// passes every time) and not safe for concurrent use.
type Elector struct {
	self    string
	inc     uint64
	need    int
	length  time.Duration
	margin  time.Duration
	started time.Time
	// blackout is how long after started this agent names no one and
	// holds no lease: length, or longer (see SetBlackout).
	blackout time.Duration

	term      uint64
	named     string    // the agent this one last named
	namedAt   time.Time // when it last did
	namedTerm uint64
	sent      map[uint64]time.Time // sequence of this agent's views -> when sent
	ballots   map[string]Ballot    // the latest ballot of each peer
}

// LeaseMargin is how much of each endorsement's time an agent gives up,
// for clock rate differences and the request in flight.
func LeaseMargin(length time.Duration) time.Duration {
	return max(length/10, 200*time.Millisecond)
}

// MinLease is the shortest lease (view_stale_after) that lets an agent
// write with views sent every viewInterval: an endorsement lasts from when
// the view it echoes was sent, up to two intervals (ours, then the peer's)
// before it arrives, minus the margin, and Fence wants the margin left; one
// interval more is slack for transit.
func MinLease(viewInterval time.Duration) time.Duration {
	for l := 3*viewInterval + 2*LeaseMargin(0); ; l += viewInterval / 10 {
		if l >= 3*viewInterval+2*LeaseMargin(l) {
			return l
		}
	}
}

// NewElector returns the lease side of agent self, in its incarnation inc,
// started now. need endorsements make a lease; length is how long one
// lasts.
func NewElector(self string, inc uint64, need int, length time.Duration, now time.Time) *Elector {
	return &Elector{self: self, inc: inc, need: max(need, 1), length: length, margin: LeaseMargin(length), started: now,
		blackout: length, sent: map[uint64]time.Time{}, ballots: map[string]Ballot{}}
}

// SetBlackout makes the blackout after the start at least d: a previous
// run of this agent may have made promises that last d.
func (e *Elector) SetBlackout(d time.Duration) { e.blackout = max(e.blackout, d) }

// Vote returns whom this agent names in the view it is about to send,
// given the agent it wants as writer ("" for no one), and the vote's term.
// It keeps the promise: having named an agent, it names no other until
// length has passed since it last did, and none at all for length after it
// started.
func (e *Elector) Vote(now time.Time, want string) (string, uint64) {
	if want == "" || now.Sub(e.started) < e.blackout {
		return "", e.term
	}
	if want != e.named && e.named != "" && now.Sub(e.namedAt) < e.length {
		return "", e.term // promised to another: hold until it lapses
	}
	if want != e.named {
		e.term++
		e.named, e.namedTerm = want, e.term
	}
	e.namedAt = now
	return e.named, e.namedTerm
}

// Sent records that this agent's view with sequence seq left at now.
func (e *Elector) Sent(seq uint64, now time.Time) {
	e.sent[seq] = now
	for s, at := range e.sent {
		if now.Sub(at) > e.length {
			delete(e.sent, s)
		}
	}
}

// Observe records a peer's latest ballot; its echo must already be the
// position of this agent's view (see Echo).
func (e *Elector) Observe(from string, b Ballot) {
	e.ballots[from] = b
	e.term = max(e.term, b.Term)
}

// Term returns the highest term this agent knows.
func (e *Elector) Term() uint64 { return e.term }

// Lease reports whether this agent holds the writer lease at now, counting
// only peers for which counts returns true.
func (e *Elector) Lease(now time.Time, counts func(peer string) bool) Lease {
	type endorsement struct {
		from  string
		until time.Time
		term  uint64
	}
	if now.Sub(e.started) < e.blackout {
		// A restarted holder may have a batch of its previous run still in
		// flight under that run's fence: it holds nothing until it is over.
		return Lease{}
	}
	var ends []endorsement
	if e.named == e.self {
		ends = append(ends, endorsement{e.self, e.namedAt.Add(e.length - e.margin), e.namedTerm})
	}
	for from, b := range e.ballots {
		if b.Vote != e.self || b.Echo.Inc != e.inc || (counts != nil && !counts(from)) {
			continue
		}
		at, ok := e.sent[b.Echo.Seq]
		if !ok {
			continue
		}
		ends = append(ends, endorsement{from, at.Add(e.length - e.margin), b.Term})
	}
	// The lease lasts while need endorsements last: until the need-th
	// latest one ends.
	slices.SortFunc(ends, func(a, b endorsement) int { return b.until.Compare(a.until) })
	if len(ends) < e.need || !ends[e.need-1].until.After(now) {
		return Lease{}
	}
	l := Lease{Held: true, Until: ends[e.need-1].until}
	for _, x := range ends {
		if x.until.After(now) {
			l.Endorsers = append(l.Endorsers, x.from)
			l.Term = max(l.Term, x.term)
		}
	}
	slices.Sort(l.Endorsers)
	return l
}
