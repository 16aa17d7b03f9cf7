package monitor

import (
	"net/netip"
	"testing"
	"time"
)

var addr = netip.MustParseAddr("198.18.0.10")

// run feeds a script of outcomes ('+' answered, '-' lost) and returns the
// state after each step.
func run(t *testing.T, m *Machine, script string, th Thresholds) string {
	t.Helper()
	t0 := time.Unix(1_700_000_000, 0)
	out := make([]byte, 0, len(script))
	for i, c := range script {
		r := Result{Addr: addr, At: t0.Add(time.Duration(i) * time.Second), OK: c == '+', RTT: time.Duration(i+1) * time.Millisecond}
		tr, changed := m.Observe(r, th)
		st, since := m.State()
		if changed {
			if tr.To != st || tr.At != r.At || !since.Equal(r.At) || tr.Addr != addr {
				t.Fatalf("step %d: transition %+v does not match state %v since %v", i, tr, st, since)
			}
		}
		out = append(out, "?UD"[st])
	}
	return string(out)
}

func TestMachine_FallRise(t *testing.T) {
	for _, tc := range []struct {
		name   string
		th     Thresholds
		script string
		want   string
	}{
		{"warm-up stays unknown until a run completes", Thresholds{3, 2}, "+-+-+-", "??????"},
		{"rise from unknown", Thresholds{3, 2}, "++", "?U"},
		{"fall from unknown", Thresholds{3, 2}, "---", "??D"},
		{"fall needs a full run", Thresholds{3, 2}, "++--+---", "?UUUUUUD"},
		{"rise needs a full run", Thresholds{2, 3}, "--++-+++", "?DDDDDDU"},
		{"threshold one flips every probe", Thresholds{1, 1}, "+-+-", "UDUD"},
		{"long outage stays down", Thresholds{2, 2}, "++------", "?UUDDDDD"},
		{"recovery after outage", Thresholds{2, 2}, "++--++", "?UUDDU"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m Machine
			if got := run(t, &m, tc.script, tc.th); got != tc.want {
				t.Errorf("script %s: states %s, want %s", tc.script, got, tc.want)
			}
		})
	}
}

func TestMachine_TransitionCarriesEvidence(t *testing.T) {
	var m Machine
	th := Thresholds{Fall: 3, Rise: 1}
	t0 := time.Unix(1_700_000_000, 0)
	for i := 0; i < 7; i++ {
		m.Observe(Result{Addr: addr, At: t0, OK: true, RTT: time.Duration(i+1) * time.Millisecond}, th)
	}
	m.Observe(Result{Addr: addr, At: t0, OK: false}, th)
	m.Observe(Result{Addr: addr, At: t0, OK: false, Err: "sendto: network is unreachable"}, th)
	tr, changed := m.Observe(Result{Addr: addr, At: t0.Add(time.Second), OK: false}, th)
	if !changed || tr.From != Up || tr.To != Down {
		t.Fatalf("transition = %+v, %v; want up->down", tr, changed)
	}
	ev := tr.Evidence
	want := []time.Duration{3, 4, 5, 6, 7}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if len(ev.RTTs) != 5 || ev.RTTs[0] != want[0] || ev.RTTs[4] != want[4] {
		t.Errorf("RTTs = %v, want %v", ev.RTTs, want)
	}
	if ev.Probes != 10 || ev.Lost != 3 || ev.Loss() != 0.3 {
		t.Errorf("loss = %d/%d (%v), want 3/10", ev.Lost, ev.Probes, ev.Loss())
	}
	if ev.LastError != "sendto: network is unreachable" {
		t.Errorf("last error = %q", ev.LastError)
	}
}

func TestMachine_LossWindowIsBounded(t *testing.T) {
	var m Machine
	th := Thresholds{Fall: 1000, Rise: 1000}
	for i := 0; i < 100; i++ {
		m.Observe(Result{Addr: addr, OK: i%2 == 0}, th)
	}
	ev := m.Evidence()
	if ev.Probes != 64 || ev.Lost != 32 {
		t.Errorf("window = %d lost of %d, want 32 of 64", ev.Lost, ev.Probes)
	}
}

// newICMPHealth is a Health watching addrs with one ICMP check each.
func newICMPHealth(addrs []netip.Addr, th Thresholds, notify func(Transition)) *Health {
	h := NewHealth(notify, nil)
	h.SetTargets(ICMPOnly(addrs, th), time.Now())
	return h
}
