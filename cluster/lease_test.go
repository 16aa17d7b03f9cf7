package cluster

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var lt0 = time.Unix(1700000000, 0)

// TestElector_Rules walks one agent's elector through the rules, on an
// injected clock: no vote while it starts, a promise kept for the lease
// length, a lease that needs the quorum of endorsements and lasts from the
// echoed view's send time.
func TestElector_Rules(t *testing.T) {
	const L = 10 * time.Second
	margin := LeaseMargin(L)
	e := NewElector("a", 7, 2, L, lt0)
	at := func(d time.Duration) time.Time { return lt0.Add(d) }
	for i, tc := range []struct {
		at        time.Duration
		want      string
		vote      string
		term      uint64
		afterVote func()
	}{
		{at: 0, want: "a", vote: ""},                    // starting: it may have promised before a restart
		{at: L - time.Millisecond, want: "a", vote: ""}, // still starting
		{at: L, want: "a", vote: "a", term: 1},          // names itself, term 1
		{at: L + time.Second, want: "b", vote: ""},      // wants b, but promised a until L+L
		{at: 2*L - time.Millisecond, want: "b", vote: ""},
		{at: 2 * L, want: "b", vote: "b", term: 2}, // promise lapsed: names b in a new term
		{at: 2*L + time.Second, want: "", vote: ""},
		{at: 2*L + 2*time.Second, want: "a", vote: ""}, // still promised to b (named at 2L)
		{at: 3 * L, want: "a", vote: "a", term: 3},
	} {
		vote, term := e.Vote(at(tc.at), tc.want)
		if vote != tc.vote || (vote != "" && term != tc.term) {
			t.Errorf("step %d at +%s wanting %q: vote %q term %d, want %q term %d", i, tc.at, tc.want, vote, term, tc.vote, tc.term)
		}
	}

	// Lease: a names itself at 3L (above). It sends view 1 at 3L and view 2
	// at 3L+2s (naming itself again); b endorses echoing view 1.
	e.Sent(1, at(3*L))
	e.Vote(at(3*L+2*time.Second), "a")
	e.Sent(2, at(3*L+2*time.Second))
	if l := e.Lease(at(3*L+time.Second), nil); l.Held {
		t.Fatalf("one endorsement of two made a lease: %+v", l)
	}
	e.Observe("b", Ballot{Vote: "a", Term: 3, Echo: Echo{Inc: 7, Seq: 1}})
	l := e.Lease(at(3*L+time.Second), nil)
	if !l.Held || !l.Until.Equal(at(3*L+L-margin)) || !slices.Equal(l.Endorsers, []string{"a", "b"}) || l.Term != 3 {
		t.Fatalf("lease = %+v, want held until the echoed view's send time + L - margin, endorsed by a and b", l)
	}
	if l := e.Lease(at(4*L-margin), nil); l.Held {
		t.Errorf("lease held at its end: %+v", l)
	}
	if l := e.Lease(at(3*L+time.Second), func(p string) bool { return p != "b" }); l.Held {
		t.Errorf("an endorsement that does not count (a name conflict) made a lease: %+v", l)
	}
	// An echo of another incarnation of a (before a restart) never counts.
	e.Observe("b", Ballot{Vote: "a", Term: 3, Echo: Echo{Inc: 6, Seq: 2}})
	if l := e.Lease(at(3*L+time.Second), nil); l.Held {
		t.Errorf("an echo of an old incarnation made a lease: %+v", l)
	}
	// A newer echo renews: from view 2's send time.
	e.Observe("b", Ballot{Vote: "a", Term: 3, Echo: Echo{Inc: 7, Seq: 2}})
	if l := e.Lease(at(3*L+3*time.Second), nil); !l.Held || !l.Until.Equal(at(3*L+2*time.Second+L-margin)) {
		t.Errorf("renewed lease = %+v", l)
	}
}

// simAgent is one agent of the lease simulation.
type simAgent struct {
	name  string
	e     *Elector
	seq   uint64
	inc   uint64
	seen  map[string]Echo // latest position of each peer's view received
	start time.Time
}

type simMsg struct {
	from, to string
	ballot   Ballot
	echoes   map[string]Echo
	pos      Echo
}

// simulate runs agents that send views at random moments over links that
// lose, delay and reorder messages (lost(from, to) decides per link), with
// restarts, and checks after every event that at most one agent holds the
// lease. wants gives each agent's wish at each step.
func simulate(t *testing.T, seed uint64, names []string, need int, lost func(step int, from, to string) bool, wants func(step int, name string) string) (holders map[string]int) {
	t.Helper()
	const L = 2 * time.Second
	r := rand.New(rand.NewPCG(seed, 1))
	now := lt0
	agents := map[string]*simAgent{}
	start := func(n string) {
		inc := uint64(now.UnixNano())
		agents[n] = &simAgent{name: n, e: NewElector(n, inc, need, L, now), inc: inc, seen: map[string]Echo{}, start: now}
	}
	for _, n := range names {
		start(n)
	}
	var flight []simMsg
	holders = map[string]int{}
	for step := 0; step < 4000; step++ {
		now = now.Add(time.Duration(r.IntN(150)) * time.Millisecond)
		if r.IntN(3) == 0 { // someone sends
			a := agents[names[r.IntN(len(names))]]
			vote, term := a.e.Vote(now, wants(step, a.name))
			a.seq++
			a.e.Sent(a.seq, now)
			for _, to := range names {
				if to != a.name && !lost(step, a.name, to) {
					flight = append(flight, simMsg{a.name, to, Ballot{Vote: vote, Term: term}, cloneEchoes(a.seen), Echo{a.inc, a.seq}})
				}
			}
		}
		r.Shuffle(len(flight), func(i, j int) { flight[i], flight[j] = flight[j], flight[i] })
		var later []simMsg
		for _, m := range flight { // each arrives now or later, in any order
			if r.IntN(2) == 0 {
				later = append(later, m)
				continue
			}
			to := agents[m.to]
			last, ok := to.seen[m.from]
			if ok && (m.pos.Inc < last.Inc || m.pos.Inc == last.Inc && m.pos.Seq <= last.Seq) {
				continue // the replay guard drops an older view
			}
			to.seen[m.from] = m.pos
			b := m.ballot
			b.Echo = m.echoes[m.to]
			to.e.Observe(m.from, b)
		}
		flight = later
		if r.IntN(100) == 0 { // a crash and restart: all memory lost
			n := names[r.IntN(len(names))]
			start(n)
			kept := flight[:0]
			for _, m := range flight {
				if m.to != n { // messages to the dead agent are lost
					kept = append(kept, m)
				}
			}
			flight = kept
		}
		var held []string
		for _, n := range names {
			if agents[n].e.Lease(now, nil).Held {
				held = append(held, n)
				holders[n]++
			}
		}
		if len(held) > 1 {
			t.Fatalf("seed %d step %d: %v hold the lease at once", seed, step, held)
		}
	}
	return holders
}

func cloneEchoes(m map[string]Echo) map[string]Echo {
	out := make(map[string]Echo, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestElector_NeverTwoHolders: whatever each agent wants and whatever the
// links lose, delay or reorder, and across restarts, no two agents hold
// the lease at once; with healthy links and one wish it is held.
func TestElector_NeverTwoHolders(t *testing.T) {
	abc := []string{"a", "b", "c"}
	for _, tc := range []struct {
		name   string
		agents []string
		lost   func(step int, from, to string) bool
		wants  func(step int, name string) string
		holder string // must hold the lease some of the time; "" no check
	}{
		{"healthy, all want a", abc, func(int, string, string) bool { return false }, func(int, string) string { return "a" }, "a"},
		{
			// One-way loss: a's views never reach b, so b finds a stale and
			// wants itself, while a and c want a.
			"one-way loss a to b", abc,
			func(_ int, from, to string) bool { return from == "a" && to == "b" },
			func(_ int, n string) string {
				if n == "b" {
					return "b"
				}
				return "a"
			}, "a",
		},
		{
			// The mirror: b's views never reach a. a and c want a; b wants a
			// too. a gets c's endorsement and its own; b's is lost.
			"one-way loss b to a", abc,
			func(_ int, from, to string) bool { return from == "b" && to == "a" },
			func(int, string) string { return "a" }, "a",
		},
		{
			// Each agent wants itself: at most one wins, and none is
			// required to.
			"everyone wants itself", abc, func(int, string, string) bool { return false },
			func(_ int, n string) string { return n }, "",
		},
		{
			"2|1 partition that heals, wishes flip", abc,
			func(step int, from, to string) bool {
				return step%1000 < 500 && (from == "a") != (to == "a")
			},
			func(step int, n string) string {
				if step%1000 < 500 && n != "a" || step%700 < 100 {
					return "b"
				}
				return "a"
			}, "",
		},
		{
			"5 agents, random loss, random wishes", []string{"a", "b", "c", "d", "e"},
			func(step int, from, to string) bool { return (step/97+len(from)*7+int(to[0]))%5 == 0 },
			func(step int, n string) string { return string(rune('a' + (step/300+int(n[0]))%5)) }, "",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 20; seed++ {
				need := len(tc.agents)/2 + 1
				h := simulate(t, seed, tc.agents, need, tc.lost, tc.wants)
				if tc.holder != "" && h[tc.holder] == 0 {
					t.Fatalf("seed %d: %s never held the lease (%v)", seed, tc.holder, h)
				}
			}
		})
	}
}

// TestElector_MinorityTwoHolders shows why a majority is required: with
// need below a majority (min_peers_agree = 0 with peers), two sides of a
// partition both hold a lease. Config refuses that unless
// allow_split_brain is set.
func TestElector_MinorityTwoHolders(t *testing.T) {
	const L = time.Second
	a, b := NewElector("a", 1, 1, L, lt0), NewElector("b", 1, 1, L, lt0)
	now := lt0.Add(L)
	a.Vote(now, "a")
	b.Vote(now, "b")
	if !a.Lease(now, nil).Held || !b.Lease(now, nil).Held {
		t.Fatal("with need 1 each agent alone should hold a lease")
	}
}
