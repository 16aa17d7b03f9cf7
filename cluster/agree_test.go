package cluster

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/monitor"
)

var (
	ipA = netip.MustParseAddr("192.0.2.1")
	ipB = netip.MustParseAddr("192.0.2.2")
	ipC = netip.MustParseAddr("192.0.2.3")
	t0  = time.Unix(1700000000, 0)
)

const (
	U = monitor.Up
	D = monitor.Down
	X = monitor.Unknown
)

// st builds a view of ipA, ipB and ipC.
func st(a, b, c monitor.State) map[netip.Addr]monitor.State {
	return map[netip.Addr]monitor.State{ipA: a, ipB: b, ipC: c}
}

func peer(name string, s map[netip.Addr]monitor.State) PeerView {
	return PeerView{Node: name, Alive: true, Received: t0, States: s}
}

func TestIsolated(t *testing.T) {
	for _, tc := range []struct {
		states    map[netip.Addr]monitor.State
		failing   int
		threshold float64
		want      bool
	}{
		{st(D, D, D), 0, 0.9, true},
		{st(D, D, U), 0, 0.9, false},
		{st(D, D, U), 0, 0.6, true},
		{st(D, D, X), 0, 0.9, false}, // two decided addresses are too few to judge
		{st(D, D, D), 0, 0, false},   // guard off
		{map[netip.Addr]monitor.State{ipA: D, ipB: D}, 0, 0.5, false},
		{st(D, U, U), 2, 0.9, true}, // the first one down, the others on their way: a broken uplink
		{st(D, U, U), 1, 0.9, false},
		{st(D, X, X), 2, 0.9, true}, // still warming up, but losing every probe
	} {
		if got := Isolated(PeerView{States: tc.states, Failing: tc.failing}, tc.threshold); got != tc.want {
			t.Errorf("Isolated(%v, failing %d, %v) = %v, want %v", tc.states, tc.failing, tc.threshold, got, tc.want)
		}
	}
}

func me(s map[netip.Addr]monitor.State) PeerView { return PeerView{Node: "self", States: s} }

// TestAgreement_Rounds runs sequences of rounds; each round gives this
// agent's view and the peers', and the agreed state of ipA that must
// follow, so holding a state across rounds is tested too.
func TestAgreement_Rounds(t *testing.T) {
	rules := Rules{MinPeersAgree: 1, StaleAfter: 10 * time.Second, IsolationThreshold: 0.9}
	type round struct {
		local  map[netip.Addr]monitor.State
		peers  []PeerView
		now    time.Duration // after t0
		want   monitor.State
		writer string
	}
	for _, tc := range []struct {
		name   string
		rules  Rules
		rounds []round
	}{
		{"alone, min_peers_agree=0: acts on its own view", Rules{StaleAfter: time.Second}, []round{
			{local: st(X, U, U), want: X, writer: "self"},
			{local: st(U, U, U), want: U, writer: "self"},
			{local: st(D, U, U), want: D, writer: "self"},
		}},
		{"one agent seeing down changes nothing", rules, []round{
			{local: st(U, U, U), peers: []PeerView{peer("p1", st(U, U, U))}, want: U, writer: "p1"},
			{local: st(D, U, U), peers: []PeerView{peer("p1", st(U, U, U)), peer("p2", st(U, U, U))}, want: U, writer: "p1"},
		}},
		{"this agent and one peer see down", rules, []round{
			{local: st(D, U, U), peers: []PeerView{peer("p1", st(D, U, U)), peer("p2", st(U, U, U))}, want: D, writer: "p1"},
			{local: st(U, U, U), peers: []PeerView{peer("p1", st(D, U, U)), peer("p2", st(U, U, U))}, want: U, writer: "p1"},
		}},
		{"two peers see down while this agent sees up: the writer acts for them", rules, []round{
			{local: st(U, U, U), peers: []PeerView{peer("p1", st(D, U, U)), peer("p2", st(D, U, U))}, want: D, writer: "p1"},
		}},
		{"no quorum holds the last agreed state", rules, []round{
			{local: st(D, U, U), peers: []PeerView{peer("p1", st(D, U, U))}, want: D, writer: "p1"},
			{local: st(U, U, U), peers: []PeerView{{Node: "p1", Alive: false, Received: t0, States: st(D, U, U)}}, want: D, writer: "self"},
			{local: st(U, U, U), peers: []PeerView{peer("p1", st(U, U, U))}, want: U, writer: "p1"},
		}},
		{"both states reach the quorum: this agent settles it", rules, []round{
			{local: st(D, U, U), peers: []PeerView{peer("p1", st(D, U, U)), peer("p2", st(U, U, U)), peer("p3", st(U, U, U))}, want: D, writer: "p1"},
			{local: st(U, U, U), peers: []PeerView{peer("p1", st(D, U, U)), peer("p2", st(U, U, U)), peer("p3", st(D, U, U))}, want: U, writer: "p1"},
			{local: st(X, U, U), peers: []PeerView{peer("p1", st(D, U, U)), peer("p2", st(U, U, U)), peer("p3", st(D, U, U)), peer("p4", st(U, U, U))}, want: U, writer: "p1"}, // unsettled: held
		}},
		{"a stale view does not vote; without a quorum for StaleAfter the agreement is forgotten", rules, []round{
			{local: st(U, U, U), peers: []PeerView{peer("p1", st(U, U, U))}, want: U, writer: "p1"},
			{local: st(D, U, U), peers: []PeerView{peer("p1", st(U, U, U))}, now: 9 * time.Second, want: U, writer: "p1"},
			{local: st(D, U, U), peers: []PeerView{peer("p1", st(D, U, U))}, now: 20 * time.Second, want: X, writer: "self"},
		}},
		{"a dead agent does not vote and cannot write", rules, []round{
			{local: st(D, U, U), peers: []PeerView{{Node: "a-dead", Alive: false, Received: t0, States: st(D, U, U)}, peer("z", st(U, U, U))}, want: X, writer: "self"},
		}},
		{"an isolated peer abstains", rules, []round{
			{local: st(D, U, U), peers: []PeerView{peer("p1", st(D, D, D))}, want: X, writer: "self"},
		}},
		{"an isolated agent abstains and does not write", rules, []round{
			{local: st(U, U, U), peers: []PeerView{peer("p1", st(U, U, U))}, want: U, writer: "p1"},
			{local: st(D, D, D), peers: []PeerView{peer("p1", st(U, U, U)), peer("p2", st(D, U, U))}, want: U, writer: "p1"},
			{local: st(D, D, D), peers: []PeerView{peer("p1", st(D, U, U)), peer("p2", st(D, U, U))}, want: D, writer: "p1"},
		}},
		{"everyone isolated: nothing changes, the lowest live name writes", rules, []round{
			{local: st(U, U, U), peers: []PeerView{peer("p1", st(U, U, U))}, want: U, writer: "p1"},
			{local: st(D, D, D), peers: []PeerView{peer("p1", st(D, D, D))}, want: U, writer: "p1"},
		}},
		{"a peer that cannot write votes but is not chosen", rules, []round{
			{local: st(D, U, U), peers: []PeerView{{Node: "a-not-ready", Alive: true, Received: t0, States: st(D, U, U), NotReady: true}}, want: D, writer: "self"},
		}},
		{"a peer whose name is shared neither votes nor is chosen", rules, []round{
			{local: st(D, U, U), peers: []PeerView{{Node: "a-dup", Alive: true, Received: t0, States: st(D, U, U), Duplicate: true}, peer("z", st(U, U, U))}, want: X, writer: "self"},
		}},
		{"min_peers_agree=2 needs three agents", Rules{MinPeersAgree: 2, StaleAfter: time.Minute}, []round{
			{local: st(D, U, U), peers: []PeerView{peer("p1", st(D, U, U)), peer("p2", st(U, U, U))}, want: X, writer: "p1"},
			{local: st(D, U, U), peers: []PeerView{peer("p1", st(D, U, U)), peer("p2", st(D, U, U))}, want: D, writer: "p1"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAgreement(tc.rules)
			for i, r := range tc.rounds {
				d := a.Decide(t0.Add(r.now), me(r.local), r.peers)
				if got := d.States[ipA]; got != r.want {
					t.Errorf("round %d: agreed %v, want %v (%s)", i, got, r.want, d)
				}
				if d.Writer != r.writer {
					t.Errorf("round %d: writer %q, want %q (%s)", i, d.Writer, r.writer, d)
				}
			}
		})
	}
}

func TestAgreement_ReportsChangesAndForgetsDroppedAddresses(t *testing.T) {
	a := NewAgreement(Rules{StaleAfter: time.Second})
	d := a.Decide(t0, me(st(U, D, X)), nil)
	if want := []netip.Addr{ipA, ipB}; !slices.Equal(d.Changed, want) {
		t.Errorf("first round changed %v, want %v", d.Changed, want)
	}
	if d = a.Decide(t0, me(st(U, D, X)), nil); len(d.Changed) != 0 {
		t.Errorf("a repeated round changed %v", d.Changed)
	}
	d = a.Decide(t0, me(map[netip.Addr]monitor.State{ipA: U}), nil)
	if _, ok := d.States[ipB]; ok || len(d.States) != 1 {
		t.Errorf("an address dropped from the config is still agreed on: %v", d.States)
	}
}

// TestAgreement_QuorumDecidesWhoMayWrite: the writer writes only while the
// agents it can see are enough to agree; on the short side of a partition
// nobody writes.
func TestAgreement_QuorumDecidesWhoMayWrite(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules Rules
		peers []PeerView
		want  bool
	}{
		{"alone with min_peers_agree = 0", Rules{StaleAfter: time.Second}, nil, true},
		{"alone with min_peers_agree = 1", rules1, nil, false},
		{"two of three", rules1, []PeerView{peer("p1", st(U, U, U))}, true},
		{"the other voter is stale", rules1, []PeerView{{Node: "p1", Alive: true, Received: t0.Add(-time.Minute), States: st(U, U, U)}}, false},
		{"min_peers_agree = 2, one peer", Rules{MinPeersAgree: 2, StaleAfter: time.Second}, []PeerView{peer("p1", st(U, U, U))}, false},
		{"this agent's name is shared: it does not vote", rules1, []PeerView{peer("p1", st(U, U, U))}, false},
	} {
		self := me(st(U, U, U))
		self.Duplicate = strings.HasPrefix(tc.name, "this agent's name is shared")
		d := NewAgreement(tc.rules).Decide(t0, self, tc.peers)
		if d.Quorate != tc.want {
			t.Errorf("%s: quorate %v, want %v (%s)", tc.name, d.Quorate, tc.want, d)
		}
	}
}
