package cluster

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/goavail/goavail/monitor"
)

// vw is a view of ipA, ipB and ipC with their runs of lost probes.
type vw struct {
	s       map[netip.Addr]monitor.State
	a, b, c int // probes lost in a row
}

func (v vw) peer(name string) PeerView {
	p := PeerView{Node: name, Alive: true, Received: t0, States: v.s, Runs: map[netip.Addr]int{}}
	for addr, n := range map[netip.Addr]int{ipA: v.a, ipB: v.b, ipC: v.c} {
		if n > 0 {
			p.Runs[addr] = n
		}
	}
	for addr, n := range p.Runs {
		if v.s[addr] != monitor.Down && n > 0 { // losing, not yet down: what View.Failing counts
			p.Failing++
		}
	}
	return p
}

func agreedABC(d Decision) string {
	out := ""
	for _, a := range []netip.Addr{ipA, ipB, ipC} {
		out += map[monitor.State]string{U: "U", D: "D", X: "X"}[d.States[a]]
	}
	return out
}

// TestAgreement_Release: a state decided while an agent was isolated, or
// while a name was held by fail-open, is not acted on after the release
// until fresh probes confirm it (release.go). Each round gives this
// agent's view (and peers'), and the agreed states of ipA, ipB and ipC.
func TestAgreement_Release(t *testing.T) {
	guard := Rules{StaleAfter: time.Minute, IsolationThreshold: 0.9, Reconfirm: 3}
	noGuard := Rules{StaleAfter: time.Minute, Reconfirm: 3, FailOpenSets: [][]netip.Addr{{ipA, ipB, ipC}}}
	pair := Rules{MinPeersAgree: 1, StaleAfter: time.Minute, IsolationThreshold: 0.9, Reconfirm: 3}
	type round struct {
		self  vw
		peers map[string]vw
		want  string
	}
	allUp := vw{s: st(U, U, U)}
	allDown := vw{s: st(D, D, D), a: 4, b: 4, c: 4}
	for _, tc := range []struct {
		name   string
		rules  Rules
		rounds []round
	}{
		{"isolation: the first address up releases; the lagging downs are no votes", guard, []round{
			{self: allUp, want: "UUU"},
			{self: allDown, want: "UUU"}, // isolated: abstains
			{self: vw{s: st(U, D, D), b: 0, c: 6}, want: "UUU"},
			{self: vw{s: st(U, D, D), b: 0, c: 0}, want: "UUU"}, // answering, rising
			{self: vw{s: st(U, U, U)}, want: "UUU"},
		}},
		{"isolation: an address that stays down goes after Reconfirm fresh losses", guard, []round{
			{self: allUp, want: "UUU"},
			{self: allDown, want: "UUU"},
			{self: vw{s: st(U, U, D), c: 6}, want: "UUU"}, // released: needs 9
			{self: vw{s: st(U, U, D), c: 8}, want: "UUU"},
			{self: vw{s: st(U, U, D), c: 9}, want: "UUD"},
		}},
		{"isolation: a run that restarts after the release needs Reconfirm losses, no more", guard, []round{
			{self: allUp, want: "UUU"},
			{self: allDown, want: "UUU"},
			{self: vw{s: st(U, U, D), c: 6}, want: "UUU"},
			{self: vw{s: st(U, U, D), c: 0}, want: "UUU"}, // answered once: still down, rising
			{self: vw{s: st(U, U, D), c: 2}, want: "UUU"},
			{self: vw{s: st(U, U, D), c: 3}, want: "UUD"},
		}},
		{"isolation: a failing address not yet down at the release needs Reconfirm fresh losses", guard, []round{
			{self: allUp, want: "UUU"},
			{self: vw{s: st(D, D, U), a: 4, b: 4, c: 2}, want: "UUU"}, // c failing: isolated
			{self: vw{s: st(U, U, D), c: 3}, want: "UUU"},             // released as c went down: c needs 6
			{self: vw{s: st(U, U, D), c: 5}, want: "UUU"},
			{self: vw{s: st(U, U, D), c: 6}, want: "UUD"},
		}},
		{"fail-open: the first address up releases the name; the others stay until confirmed", noGuard, []round{
			{self: allUp, want: "UUU"},
			{self: allDown, want: "DDD"}, // DNS keeps every record: fail-open
			{self: vw{s: st(U, D, D), b: 6, c: 6}, want: "UXX"},
			{self: vw{s: st(U, D, D), b: 0, c: 8}, want: "UXX"},
			{self: vw{s: st(U, U, D), c: 9}, want: "UUD"},
		}},
		{"fail-open: an address up again never loses its record", noGuard, []round{
			{self: allUp, want: "UUU"},
			{self: allDown, want: "DDD"},
			{self: vw{s: st(U, D, D), b: 0, c: 0}, want: "UXX"},
			{self: vw{s: st(U, U, D), c: 0}, want: "UUX"},
			{self: vw{s: st(U, U, U)}, want: "UUU"},
		}},
		{"fail-open without a release: an ordinary down is acted on at once", noGuard, []round{
			{self: allUp, want: "UUU"},
			{self: vw{s: st(U, U, D), c: 3}, want: "UUD"},
		}},
		{"two agents: a peer's stale down does not vote after its release", pair, []round{
			{self: allUp, peers: map[string]vw{"p1": allUp}, want: "UUU"},
			{self: allDown, peers: map[string]vw{"p1": allDown}, want: "UUU"},
			{self: vw{s: st(U, D, D), b: 6, c: 6}, peers: map[string]vw{"p1": allDown}, want: "UUU"},
			{self: vw{s: st(U, D, D), b: 7, c: 7}, peers: map[string]vw{"p1": vw{s: st(U, D, D), b: 7, c: 7}}, want: "UUU"},
			{self: vw{s: st(U, U, U)}, peers: map[string]vw{"p1": allUp}, want: "UUU"},
		}},
		{"two agents: an address that stays down goes once both confirm it", pair, []round{
			{self: allUp, peers: map[string]vw{"p1": allUp}, want: "UUU"},
			{self: allDown, peers: map[string]vw{"p1": allDown}, want: "UUU"},
			{self: vw{s: st(U, U, D), c: 6}, peers: map[string]vw{"p1": vw{s: st(U, U, D), c: 5}}, want: "UUU"},
			{self: vw{s: st(U, U, D), c: 9}, peers: map[string]vw{"p1": vw{s: st(U, U, D), c: 7}}, want: "UUU"}, // p1 not yet
			{self: vw{s: st(U, U, D), c: 10}, peers: map[string]vw{"p1": vw{s: st(U, U, D), c: 8}}, want: "UUD"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAgreement(tc.rules)
			for i, r := range tc.rounds {
				var peers []PeerView
				for name, v := range r.peers {
					peers = append(peers, v.peer(name))
				}
				d := a.Decide(t0.Add(time.Duration(i)*time.Second), r.self.peer("self"), peers)
				if got := agreedABC(d); got != r.want {
					t.Errorf("round %d: agreed %s, want %s (%s)", i, got, r.want, d)
				}
			}
		})
	}
}

// TestAgreement_ReleaseReportsHeld: a fail-open release names the
// addresses it holds, reports them changed (to Unknown), and lets them go
// when fresh probes decide them.
func TestAgreement_ReleaseReportsHeld(t *testing.T) {
	a := NewAgreement(Rules{StaleAfter: time.Minute, Reconfirm: 2, FailOpenSets: [][]netip.Addr{{ipA, ipB, ipC}}})
	a.Decide(t0, vw{s: st(D, D, D), a: 2, b: 2, c: 2}.peer("self"), nil)
	d := a.Decide(t0, vw{s: st(U, D, D), b: 3, c: 3}.peer("self"), nil)
	if want := []netip.Addr{ipA, ipB, ipC}; !slices.Equal(d.Changed, want) || !slices.Equal(d.Held, want[1:]) {
		t.Errorf("release: changed %v, held %v; want changed %v, held %v", d.Changed, d.Held, want, want[1:])
	}
	d = a.Decide(t0, vw{s: st(U, U, D), c: 5}.peer("self"), nil)
	if !slices.Equal(d.Held, nil) || agreedABC(d) != "UUD" {
		t.Errorf("after fresh probes: held %v, agreed %s; want none held, UUD", d.Held, agreedABC(d))
	}
}
