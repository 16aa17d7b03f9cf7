package cluster

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// grant is one span in which an agent could write: from the Mono time it
// found that it held the writer lease to the end of that lease. Every
// Fence, IsWriter, Lease and agreement round that finds the lease held
// makes one (see Cluster.onLease); renewals merge into one span.
type grant struct{ from, until time.Time }

// leaseLog keeps every grant an agent made itself, from the start of its
// Run: a safety check reads all of them, so an overlap however short is
// seen (polling Lease every few milliseconds missed shorter ones).
type leaseLog struct {
	mu     sync.Mutex
	grants []grant
}

// hook returns the function to set as Cluster.onLease. The agents of a
// test share CLOCK_BOOTTIME (the default Mono), so their grants compare
// as they are. shifted is for an agent with a clock of its own: its
// grant is placed at the shared clock's reading when it is made.
func (l *leaseLog) hook(shifted bool) func(Lease, time.Time) {
	return func(lease Lease, now time.Time) {
		g := grant{now, lease.Until}
		if shifted {
			at := bootClock()
			g = grant{at, at.Add(lease.Until.Sub(now))}
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if k := len(l.grants) - 1; k >= 0 && !g.from.After(l.grants[k].until) && !g.until.Before(l.grants[k].from) {
			last := &l.grants[k]
			last.from, last.until = minTime(last.from, g.from), maxTime(last.until, g.until)
			return
		}
		l.grants = append(l.grants, g)
	}
}

func (l *leaseLog) all() []grant {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]grant(nil), l.grants...)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// watchLeases makes n record its grants from now on.
func watchLeases(n *node, shifted bool) {
	n.Cluster.mu.Lock()
	n.Cluster.onLease = n.leases.hook(shifted)
	n.Cluster.mu.Unlock()
}

// noTwoHolders fails the test if grants of two agents (two runs of one
// name count as two) ever overlapped, at any time since they started.
func noTwoHolders(t *testing.T, nodes []*node) {
	t.Helper()
	for _, o := range overlaps(nodes) {
		t.Errorf("two writers at once: %s", o)
	}
}

// overlaps describes every overlap of two agents' grants.
func overlaps(nodes []*node) []string {
	var out []string
	for i, a := range nodes {
		for _, b := range nodes[i+1:] {
			for _, ga := range a.leases.all() {
				for _, gb := range b.leases.all() {
					if ga.from.Before(gb.until) && gb.from.Before(ga.until) {
						out = append(out, fmt.Sprintf("%s held the lease over %s and %s over %s (overlap %s)", a.cfg.NodeName, span(ga), b.cfg.NodeName, span(gb),
							minTime(ga.until, gb.until).Sub(maxTime(ga.from, gb.from))))
					}
				}
			}
		}
	}
	return out
}

func span(g grant) string {
	return fmt.Sprintf("[%s, %s]", g.from.Format("15:04:05.000000"), g.until.Format("15:04:05.000000"))
}

// heldWithin returns how many grants of each agent overlap [from, to).
func heldWithin(nodes []*node, from, to time.Time) map[string]int {
	seen := map[string]int{}
	for _, n := range nodes {
		for _, g := range n.leases.all() {
			if g.from.Before(to) && g.until.After(from) {
				seen[n.cfg.NodeName]++
			}
		}
	}
	return seen
}

// longestGap is the longest part of [from, to) in which none of nodes
// held the lease.
func longestGap(nodes []*node, from, to time.Time) time.Duration {
	var all []grant
	for _, n := range nodes {
		all = append(all, n.leases.all()...)
	}
	covered, gap := from, time.Duration(0)
	for {
		next := covered
		for _, g := range all { // the grant reaching furthest from a moment at or before covered
			if !g.from.After(covered) && g.until.After(next) {
				next = g.until
			}
		}
		if next.After(covered) {
			covered = next
			if !covered.Before(to) {
				return gap
			}
			continue
		}
		// a hole: jump to the earliest grant starting after covered
		start := to
		for _, g := range all {
			if g.from.After(covered) && g.from.Before(start) {
				start = g.from
			}
		}
		gap = max(gap, start.Sub(covered))
		if !start.Before(to) {
			return gap
		}
		covered = start
	}
}

// grantsOf lists an agent's grants, for a failure message.
func grantsOf(n *node) string {
	var b strings.Builder
	for _, g := range n.leases.all() {
		b.WriteString(span(g))
	}
	return b.String()
}

// TestLeaseLog_SeesEveryOverlap: the safety check sees an overlap of a
// millisecond (the 5 ms poll it replaces could not), sees none between
// a grant and one starting where it ends, and measures gaps.
func TestLeaseLog_SeesEveryOverlap(t *testing.T) {
	at := time.Unix(1000, 0)
	ms := time.Millisecond
	mk := func(name string, spans ...[2]time.Duration) *node {
		n := &node{Cluster: &Cluster{cfg: Config{NodeName: name}}}
		h := n.leases.hook(false)
		for _, s := range spans {
			h(Lease{Held: true, Until: at.Add(s[1])}, at.Add(s[0]))
		}
		return n
	}
	// a's renewals every 100 ms merge into one grant.
	a := mk("a", [2]time.Duration{0, 800 * ms}, [2]time.Duration{100 * ms, 900 * ms}, [2]time.Duration{200 * ms, 1000 * ms})
	if g := a.leases.all(); len(g) != 1 || !g[0].until.Equal(at.Add(1000*ms)) {
		t.Errorf("renewals: %s, want one grant to 1s", grantsOf(a))
	}
	b := mk("b", [2]time.Duration{999 * ms, 1500 * ms})
	c := mk("c", [2]time.Duration{1500 * ms, 2000 * ms}, [2]time.Duration{2300 * ms, 2500 * ms})
	if o := overlaps([]*node{a, b}); len(o) != 1 || !strings.Contains(o[0], "overlap 1ms") {
		t.Errorf("a 1 ms overlap: %q", o)
	}
	if o := overlaps([]*node{a, c}); len(o) != 0 {
		t.Errorf("no overlap: %q", o)
	}
	if g := longestGap([]*node{a, c}, at, at.Add(3*time.Second)); g != 500*ms {
		t.Errorf("longest gap %s, want 500ms (1s to 1.5s, and 2.5s to 3s)", g)
	}
	if g := longestGap([]*node{a, b, c}, at, at.Add(2500*ms)); g != 300*ms {
		t.Errorf("longest gap %s, want 300ms (2s to 2.3s)", g)
	}
}

// grantsSince lists an agent's grants as offsets from at, for a log.
func grantsSince(n *node, at time.Time) string {
	var b strings.Builder
	for _, g := range n.leases.all() {
		fmt.Fprintf(&b, "[%s, %s]", g.from.Sub(at).Round(time.Millisecond), g.until.Sub(at).Round(time.Millisecond))
	}
	return b.String()
}

// roundsRun waits until each of nodes has run two more agreement rounds
// than when called: the second started after this call, so it saw every
// view stored and every local change made before it. A test waits on it
// where it would otherwise sleep for "nothing changed".
func roundsRun(t *testing.T, nodes ...*node) {
	t.Helper()
	start := make([]uint64, len(nodes))
	for i, n := range nodes {
		start[i] = n.rounds.Load()
	}
	for i, n := range nodes {
		eventually(t, n.cfg.NodeName+" runs two agreement rounds", func() bool { return n.rounds.Load() >= start[i]+2 })
	}
}
