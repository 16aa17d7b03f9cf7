package monitor

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestCombine_AllAndAny is the combination rule, every case.
func TestCombine_AllAndAny(t *testing.T) {
	U, D, K := Up, Down, Unknown
	for _, tc := range []struct {
		states   []State
		all, any State
	}{
		{nil, K, K},
		{[]State{U}, U, U},
		{[]State{D}, D, D},
		{[]State{K}, K, K},
		{[]State{U, U}, U, U},
		{[]State{U, D}, D, U},
		{[]State{D, D}, D, D},
		{[]State{U, K}, K, U},
		{[]State{D, K}, D, K},
		{[]State{K, K}, K, K},
		{[]State{U, U, D}, D, U},
		{[]State{D, D, K}, D, K},
	} {
		if got := Combine(tc.states, MatchAll); got != tc.all {
			t.Errorf("all %v = %v, want %v", tc.states, got, tc.all)
		}
		if got := Combine(tc.states, MatchAny); got != tc.any {
			t.Errorf("any %v = %v, want %v", tc.states, got, tc.any)
		}
	}
}

// TestHealth_CombinesChecks drives two checks of one address with scripted
// results: each check has its own thresholds, the address follows the
// match rule, and the transition carries every failing check's reason.
func TestHealth_CombinesChecks(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	icmp := &Check{Kind: KindICMP, Key: "icmp", Timeout: time.Second, Thresholds: Thresholds{Fall: 2, Rise: 1}}
	web := &Check{Kind: KindHTTPS, Key: "https:443/", Timeout: time.Second, Thresholds: Thresholds{Fall: 1, Rise: 2}}
	t0 := time.Unix(1700000000, 0)
	ok := func(i int) Result {
		return Result{Addr: a, At: t0.Add(time.Duration(i) * time.Second), OK: true, RTT: time.Millisecond}
	}
	bad := func(i int, why string) Result {
		return Result{Addr: a, At: t0.Add(time.Duration(i) * time.Second), Err: why}
	}
	type step struct {
		key  string
		r    Result
		want State // the address's state after the step
	}
	for _, tc := range []struct {
		name  string
		match Match
		steps []step
		why   []string // in the reason of the last transition
	}{
		{"all: up only when both are up", MatchAll, []step{
			{"icmp", ok(0), Unknown},
			{"https:443/", ok(0), Unknown},
			{"https:443/", ok(1), Up},
			{"https:443/", bad(2, "status 503 (Service Unavailable), want 2xx"), Down},
		}, []string{"https:443/: status 503"}},
		{"all: icmp loss alone takes it down", MatchAll, []step{
			{"icmp", ok(0), Unknown}, {"https:443/", ok(0), Unknown}, {"https:443/", ok(1), Up},
			{"icmp", Result{Addr: a, At: t0.Add(3 * time.Second)}, Up},
			{"icmp", Result{Addr: a, At: t0.Add(4 * time.Second)}, Down},
		}, []string{"icmp: no reply to the last 2 probes"}},
		{"any: one up check keeps it up", MatchAny, []step{
			{"icmp", ok(0), Up},
			{"https:443/", bad(1, "connect: connection refused"), Up},
			{"icmp", bad(2, "sendto: no route to host"), Up},
			{"icmp", bad(3, "sendto: no route to host"), Down},
		}, []string{"icmp: sendto: no route to host", "https:443/: connect: connection refused"}},
		{"any: back up on the first check that rises", MatchAny, []step{
			{"icmp", bad(0, "x"), Unknown}, {"icmp", bad(1, "x"), Unknown},
			{"https:443/", bad(1, "timeout after 1s in tls"), Down},
			{"https:443/", ok(2), Down}, {"https:443/", ok(3), Up},
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var last Transition
			h := NewHealth(func(tr Transition) { last = tr }, nil)
			h.SetTargets(map[netip.Addr]AddrChecks{a: {Checks: []*Check{icmp, web}, Match: tc.match}}, t0)
			for i, s := range tc.steps {
				h.Observe(s.key, s.r)
				if got := h.States()[a]; got != s.want {
					t.Fatalf("step %d (%s ok=%t): state %v, want %v", i, s.key, s.r.OK, got, s.want)
				}
			}
			for _, w := range tc.why {
				if !strings.Contains(last.Evidence.LastError, w) {
					t.Errorf("reason %q lacks %q", last.Evidence.LastError, w)
				}
			}
		})
	}
}

// TestHealth_ReloadKeepsStateAndRecombines: a check that stays keeps its
// state across SetTargets; dropping the one down check brings the address
// up at once, with a transition.
func TestHealth_ReloadKeepsStateAndRecombines(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	tcp := &Check{Kind: KindTCP, Key: "tcp:80", Thresholds: Thresholds{Fall: 1, Rise: 1}}
	web := &Check{Kind: KindHTTP, Key: "http:80/", Thresholds: Thresholds{Fall: 1, Rise: 1}}
	var trs []Transition
	h := NewHealth(func(tr Transition) { trs = append(trs, tr) }, nil)
	now := time.Unix(1700000000, 0)
	h.SetTargets(map[netip.Addr]AddrChecks{a: {Checks: []*Check{tcp, web}}}, now)
	h.Observe("tcp:80", Result{Addr: a, At: now, OK: true})
	h.Observe("http:80/", Result{Addr: a, At: now, Err: "status 500"})
	if h.States()[a] != Down {
		t.Fatalf("state %v, want down", h.States()[a])
	}
	h.SetTargets(map[netip.Addr]AddrChecks{a: {Checks: []*Check{tcp}}}, now.Add(time.Second))
	if h.States()[a] != Up || len(trs) != 2 || trs[1].To != Up {
		t.Fatalf("after dropping the failing check: state %v, transitions %+v", h.States()[a], trs)
	}
	h.Observe("http:80/", Result{Addr: a, At: now, Err: "late result of a dropped check"})
	if h.States()[a] != Up {
		t.Error("a result of a dropped check counted")
	}
	cs := h.Checks()
	if len(cs) != 1 || cs[0].State != Up || cs[0].Check != "tcp:80" {
		t.Errorf("checks = %+v", cs)
	}
}

// TestHealth_OneCheckIsTheMachine: an address with a single check goes
// through exactly the transitions a lone Machine gives it, for random
// results: checks change nothing for a config that has none.
func TestHealth_OneCheckIsTheMachine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a := netip.MustParseAddr("192.0.2.1")
	for round := range 50 {
		th := Thresholds{Fall: 1 + rng.IntN(4), Rise: 1 + rng.IntN(4)}
		var fromMachine, fromHealth []string
		var m Machine
		h := NewHealth(func(x Transition) { fromHealth = append(fromHealth, x.From.String()+">"+x.To.String()) }, nil)
		h.SetTargets(ICMPOnly([]netip.Addr{a}, th), time.Unix(0, 0))
		for i := range 200 {
			r := Result{Addr: a, At: time.Unix(int64(i), 0), OK: rng.IntN(3) > 0}
			if x, changed := m.Observe(r, th); changed {
				fromMachine = append(fromMachine, x.From.String()+">"+x.To.String())
			}
			h.ObserveICMP(r)
		}
		if len(fromMachine) == 0 {
			t.Fatalf("round %d: no transition at all; the test checks nothing", round)
		}
		if strings.Join(fromMachine, ",") != strings.Join(fromHealth, ",") {
			t.Fatalf("round %d (%+v): machine %v, health %v", round, th, fromMachine, fromHealth)
		}
	}
}
