package cluster

import (
	"testing"
	"time"
)

// TestRoute: small messages go by UDP; a big one by TCP; a UDP message
// unechoed past lag sends the next ones by TCP for hold, then UDP is tried
// again; an echo that covers only some of the UDP messages leaves the
// later ones watched from when they were sent, not from the echo.
func TestRoute(t *testing.T) {
	const lag, hold = 2 * time.Second, 30 * time.Second
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		ms   int    // time of the send
		size int    // sealed bytes
		echo uint64 // the peer's echo when the message is picked
		seq  uint64 // the message's sequence
		want transport
		fail bool // the send failed: not noted
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"small messages go by UDP while echoed", []step{
			{0, 300, 0, 1, viaUDP, false},
			{150, 300, 1, 2, viaUDP, false},
			{1900, 300, 1, 3, viaUDP, false}, // 2 sent at 150, unechoed for 1.75 s < lag
			{2300, 300, 3, 4, viaUDP, false},
			{9000, 300, 4, 5, viaUDP, false},
		}},
		{"a message too big for a packet goes by TCP", []step{
			{0, maxUDPMessage, 0, 1, viaUDP, false},
			{150, maxUDPMessage + 1, 0, 2, viaTCP, false},
			{300, 200, 0, 3, viaUDP, false}, // the stream covered 1: nothing pending
			{3000, 200, 0, 4, viaTCP, false},
		}},
		{"an unechoed UDP message sends the peer's messages by TCP for hold", []step{
			{0, 300, 0, 1, viaUDP, false},
			{1000, 300, 0, 2, viaUDP, false},
			{2000, 300, 0, 3, viaTCP, false}, // 1 unechoed for lag
			{2150, 300, 3, 4, viaTCP, false}, // held, though echoed
			{31999, 300, 4, 5, viaTCP, false},
			{32000, 300, 5, 6, viaUDP, false}, // hold over: UDP is tried again
			{34000, 300, 5, 7, viaTCP, false},
		}},
		{"an echo of an early message leaves the later ones watched from their send", []step{
			{0, 300, 0, 1, viaUDP, false},
			{100, 300, 0, 2, viaUDP, false},
			{1900, 300, 1, 3, viaUDP, false}, // 1 echoed; 2 is pending since 100
			{2100, 300, 1, 4, viaTCP, false}, // 2 unechoed for 2 s: overdue though the peer echoes 1
		}},
		{"holds double while no packet is echoed, and reset when one is", []step{
			{0, 300, 0, 1, viaUDP, false},
			{2000, 300, 0, 2, viaTCP, false}, // hold 30 s
			{32000, 300, 2, 3, viaUDP, false},
			{34000, 300, 2, 4, viaTCP, false}, // hold 60 s
			{93999, 300, 4, 5, viaTCP, false},
			{94000, 300, 5, 6, viaUDP, false},
			{94500, 300, 6, 7, viaUDP, false}, // 6 echoed: a packet got through
			{96500, 300, 6, 8, viaTCP, false}, // 7 overdue: hold 30 s again
			{126499, 300, 8, 9, viaTCP, false},
			{126500, 300, 9, 10, viaUDP, false},
		}},
		{"a failed send is not watched", []step{
			{0, 300, 0, 1, viaUDP, true},
			{2500, 300, 0, 2, viaUDP, false},
			{4499, 300, 0, 3, viaUDP, false},
			{4500, 300, 0, 4, viaTCP, false},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r route
			for i, s := range tc.steps {
				got := r.pick(at(s.ms), s.size, s.echo, lag, hold)
				if got != s.want {
					t.Fatalf("step %d (seq %d at %d ms, echo %d): %v, want %v", i, s.seq, s.ms, s.echo, got, s.want)
				}
				if !s.fail {
					r.sent(got, s.seq, at(s.ms))
				}
			}
		})
	}
}

// TestRoute_Due: the overdue check fires lag after the oldest unechoed UDP
// message, moves on as echoes come, and stops when none is pending.
func TestRoute_Due(t *testing.T) {
	const lag = time.Second
	t0 := time.Unix(1000, 0)
	var r route
	if !r.due(lag).IsZero() || r.overdue(t0.Add(time.Hour), lag) {
		t.Fatal("nothing sent: nothing due")
	}
	r.sent(viaUDP, 5, t0)
	r.sent(viaUDP, 6, t0.Add(300*time.Millisecond))
	if got := r.due(lag); !got.Equal(t0.Add(lag)) {
		t.Errorf("due %v, want %v", got, t0.Add(lag))
	}
	if r.overdue(t0.Add(lag-time.Nanosecond), lag) || !r.overdue(t0.Add(lag), lag) {
		t.Error("overdue not at exactly lag after the oldest")
	}
	r.ack(5)
	if got := r.due(lag); !got.Equal(t0.Add(1300 * time.Millisecond)) {
		t.Errorf("after the echo of 5: due %v, want 1.3 s after the first", got)
	}
	r.ack(9)
	if !r.due(lag).IsZero() {
		t.Error("all echoed: still due")
	}
	r.sent(viaUDP, 10, t0)
	r.sent(viaTCP, 11, t0)
	if !r.due(lag).IsZero() {
		t.Error("a stream delivered a later message: still due")
	}
}

// TestRouteLag: a peer stages at least once per view interval and sends
// within a send gap, so its echo is never overdue on a healthy path; the
// hold is long against the lag.
func TestRouteLag(t *testing.T) {
	for _, vi := range []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second, 10 * time.Second} {
		if l := routeLag(vi); l < vi+sendGap {
			t.Errorf("view interval %s: lag %s is within one interval and a send gap", vi, l)
		}
		if h := routeHold(vi); h < 10*routeLag(vi)/2 {
			t.Errorf("view interval %s: hold %s, lag %s", vi, routeHold(vi), routeLag(vi))
		}
	}
}
