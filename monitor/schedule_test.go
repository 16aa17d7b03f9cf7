package monitor

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestNextSlot(t *testing.T) {
	const iv, slack = time.Second, 50 * time.Millisecond
	next := t0.Add(10 * time.Second)
	for _, c := range []struct {
		name      string
		late      time.Duration
		wantSend  bool
		wantAfter time.Duration // after - next
	}{
		{"on time", 0, true, iv},
		{"late within the slack", slack, true, iv},
		{"late beyond the slack: skip this slot", slack + time.Millisecond, false, iv},
		{"almost an interval late", iv - time.Millisecond, false, iv},
		{"exactly an interval late: the next slot is now, skip it too", iv, false, 2 * iv},
		{"3.5 intervals late (paused): skip 4, keep the phase", 3*iv + iv/2, false, 4 * iv},
		{"an hour late", time.Hour + 10*time.Millisecond, false, time.Hour + iv},
	} {
		t.Run(c.name, func(t *testing.T) {
			now := next.Add(c.late)
			send, after := nextSlot(next, now, iv, slack)
			if send != c.wantSend || after.Sub(next) != c.wantAfter {
				t.Errorf("nextSlot(late %s) = %v, +%s; want %v, +%s", c.late, send, after.Sub(next), c.wantSend, c.wantAfter)
			}
			if !after.After(now) {
				t.Errorf("next slot %s is not after now %s", after, now)
			}
			if after.Sub(next)%iv != 0 {
				t.Errorf("phase lost: moved by %s", after.Sub(next))
			}
		})
	}
}

func TestPauseOf(t *testing.T) {
	const iv = time.Second
	for _, c := range []struct {
		late  time.Duration
		pause bool
	}{{-5 * time.Millisecond, false}, {0, false}, {30 * time.Millisecond, false}, {iv, false}, {iv + time.Millisecond, true}, {3 * iv, true}} {
		gone, paused := pauseOf(t0, t0.Add(c.late), iv)
		if paused != c.pause || gone != c.late {
			t.Errorf("pauseOf(late %s) = %s, %v; want %v", c.late, gone, paused, c.pause)
		}
	}
}

func TestSlackAndTicks(t *testing.T) {
	for _, c := range []struct{ iv, tick, read, slack time.Duration }{
		{time.Second, 40 * time.Millisecond, 100 * time.Millisecond, 80 * time.Millisecond},
		{200 * time.Millisecond, 8 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond},
		{30 * time.Millisecond, 1200 * time.Microsecond, 3 * time.Millisecond, 3 * time.Millisecond},
		{10 * time.Second, 40 * time.Millisecond, 100 * time.Millisecond, 80 * time.Millisecond},
	} {
		if got := tickFor(c.iv); got != c.tick {
			t.Errorf("tickFor(%s) = %s, want %s", c.iv, got, c.tick)
		}
		if got := readTickFor(c.iv); got != c.read {
			t.Errorf("readTickFor(%s) = %s, want %s", c.iv, got, c.read)
		}
		if got := slackFor(c.iv); got != c.slack {
			t.Errorf("slackFor(%s) = %s, want %s", c.iv, got, c.slack)
		}
		if slackFor(c.iv) < 2*tickFor(c.iv) || slackFor(c.iv) >= c.iv {
			t.Errorf("interval %s: slack %s must cover two ticks and stay below the interval", c.iv, slackFor(c.iv))
		}
	}
}

// sim drives a ring as the engine does, on a fake clock: it wakes at the
// first due slot (at least a tick later), and records every send.
type sim struct {
	r       ring
	iv      time.Duration
	now     time.Time
	sends   []simSend
	perWake []int
	skipped int
}

type simSend struct {
	target     int
	slot, sent time.Time
}

func newSim(n int, iv time.Duration) *sim {
	s := &sim{iv: iv, now: t0}
	for i := range n {
		s.r.targets = append(s.r.targets, &target{seq: uint16(i)}) // seq names the target here
	}
	s.r.spread(t0, iv)
	return s
}

// runUntil wakes as the engine would until the clock passes end.
func (s *sim) runUntil(end time.Time) {
	for !s.now.After(end) {
		s.wake()
		s.now = s.now.Add(max(s.r.wake().Sub(s.now), tickFor(s.iv)))
	}
}

func (s *sim) wake() {
	k := 0
	s.r.due(s.now, s.iv, slackFor(s.iv), func(t *target, slot time.Time, send bool) {
		if !send {
			s.skipped++
			return
		}
		s.sends = append(s.sends, simSend{int(t.seq), slot, s.now})
		k++
	})
	s.perWake = append(s.perWake, k)
}

// window returns the sends that went out in [from, to).
func (s *sim) window(from, to time.Time) []simSend {
	var out []simSend
	for _, x := range s.sends {
		if !x.sent.Before(from) && x.sent.Before(to) {
			out = append(out, x)
		}
	}
	return out
}

// TestRing_StallKeepsEveryPhase replays the case (200 targets at
// 200 ms, one 500 ms stall) and longer stalls on a fake clock. After the
// stall every target keeps its phase, the slots stay distinct, no wake
// sends more than the steady state does, and every target is probed again
// within an interval.
func TestRing_StallKeepsEveryPhase(t *testing.T) {
	for _, c := range []struct {
		n     int
		iv    time.Duration
		stall time.Duration
	}{
		{200, 200 * time.Millisecond, 500 * time.Millisecond},
		{1000, time.Second, 3 * time.Second},
		{1000, time.Second, 1500 * time.Millisecond},
		{10000, time.Second, 3 * time.Second},
		{3, time.Second, 2500 * time.Millisecond},
	} {
		t.Run(fmt.Sprintf("%d targets/%s/stall %s", c.n, c.iv, c.stall), func(t *testing.T) {
			s := newSim(c.n, c.iv)
			s.runUntil(t0.Add(3 * c.iv))
			steadyMax := 0
			for _, k := range s.perWake {
				steadyMax = max(steadyMax, k)
			}
			phase := map[int]time.Duration{}
			for _, x := range s.sends {
				phase[x.target] = x.slot.Sub(t0) % c.iv
			}
			wakes := len(s.perWake)

			s.now = s.now.Add(c.stall) // the process is stopped; the clock runs on
			resumed := s.now
			s.runUntil(resumed.Add(3 * c.iv))

			for _, k := range s.perWake[wakes:] {
				if k > steadyMax {
					t.Fatalf("a wake after the stall sent %d probes at once; the steady state sends at most %d", k, steadyMax)
				}
			}
			after := s.window(resumed, resumed.Add(c.iv+slackFor(c.iv)))
			slots := map[time.Time]bool{}
			seen := map[int]bool{}
			for _, x := range after {
				slots[x.slot] = true
				seen[x.target] = true
				if got := x.slot.Sub(t0) % c.iv; got != phase[x.target] {
					t.Fatalf("target %d moved from phase %s to %s", x.target, phase[x.target], got)
				}
				if late := x.sent.Sub(x.slot); late < 0 || late > slackFor(c.iv) {
					t.Fatalf("target %d sent %s after its slot", x.target, late)
				}
			}
			if len(seen) != c.n {
				t.Errorf("%d of %d targets probed within an interval of the resume", len(seen), c.n)
			}
			next := s.window(resumed.Add(c.iv), resumed.Add(2*c.iv))
			distinct := map[time.Time]bool{}
			for _, x := range next {
				distinct[x.slot] = true
			}
			if len(distinct) != c.n {
				t.Errorf("one interval after the resume: %d distinct send slots for %d targets", len(distinct), c.n)
			}
		})
	}
}

// TestRing_WakesDoNotGrowWithTargets checks the cost model: the number of
// wake-ups per interval is bounded by the tick, not by the target count.
func TestRing_WakesDoNotGrowWithTargets(t *testing.T) {
	for _, n := range []int{10, 1000, 100000} {
		s := newSim(n, time.Second)
		s.runUntil(t0.Add(10 * time.Second))
		if perSec := float64(len(s.perWake)) / 10; perSec > float64(time.Second/tickFor(time.Second))+1 {
			t.Errorf("%d targets: %.0f wakes a second", n, perSec)
		}
		if len(s.sends) < 10*n || s.skipped > 0 {
			t.Errorf("%d targets: %d sends in 10 s, %d skipped", n, len(s.sends), s.skipped)
		}
	}
}

// TestRing_StarvedAgentStillProbes: when every wake comes later than the
// slack but within the interval (a CPU-starved agent), no target goes
// unprobed for more than two intervals. Skipping every late slot would
// stop probing altogether and freeze every state.
func TestRing_StarvedAgentStillProbes(t *testing.T) {
	const n, iv = 50, 200 * time.Millisecond
	late := 3 * slackFor(iv)
	s := newSim(n, iv)
	last := map[int]time.Time{}
	for i := range n {
		last[i] = t0
	}
	for s.now.Before(t0.Add(20 * iv)) {
		sent := len(s.sends)
		s.wake()
		for _, x := range s.sends[sent:] {
			if gap := x.sent.Sub(last[x.target]); gap > 2*iv+late {
				t.Fatalf("target %d unprobed for %s (interval %s, every wake %s late)", x.target, gap, iv, late)
			}
			last[x.target] = x.sent
		}
		s.now = s.now.Add(max(s.r.wake().Sub(s.now), tickFor(iv)) + late)
	}
	for i, at := range last {
		if gap := s.now.Sub(at); gap > 2*iv+2*late {
			t.Fatalf("target %d unprobed for %s at the end", i, gap)
		}
	}
	if s.skipped == 0 {
		t.Fatalf("no slot was skipped: the test does not starve the scheduler")
	}
}
