package monitor

import "time"

// The probe schedule, as pure functions of the clock: the engine calls them
// with time.Now, the tests with a fake clock.
//
// Invariants:
//   - Every target has a phase, fixed when the target set or the interval
//     changes: target i of n is due at start + i·interval/n + k·interval.
//   - A target is sent at most slack after its slot; a slot missed by more
//     (the agent was paused, or starved of CPU) is skipped and the target
//     waits for its next slot in phase. A target is never skipped twice in
//     a row for a lateness under one interval, so an agent whose every
//     wake is late still probes (at half rate) instead of freezing. A stall therefore never makes
//     targets share a slot, and the agent never bursts to catch up.
//   - A wake-up that comes more than an interval after it was due is a pause
//     of the agent itself: it is logged with its length and counted.

// tickFor is the scheduler's granularity for interval: sends due within
// it go out together (one sendmmsg), so the scheduler wakes at most 1/tick
// times a second whatever the number of targets (25 at 1 s: each wake-up
// costs the Go runtime about as much as a few probes).
func tickFor(interval time.Duration) time.Duration {
	return min(max(interval/25, time.Millisecond), 40*time.Millisecond)
}

// readTickFor is how long the reader lets replies gather between two batch
// reads (10 reads a second at 1 s). Only answered probes wait for it: the
// scheduler drains the socket itself before it counts any probe lost, and
// the round-trip time comes from the kernel's receive timestamp.
func readTickFor(interval time.Duration) time.Duration {
	return min(max(interval/10, tickFor(interval)), 100*time.Millisecond)
}

// slackFor is how late a send may go out before its slot counts as missed:
// a tenth of the interval up to 50 ms, but at least two ticks (80 ms at
// 1 s). After a pause at most that much of the interval's probes go out
// at once.
func slackFor(interval time.Duration) time.Duration {
	return max(min(interval/10, 50*time.Millisecond), 2*tickFor(interval))
}

// phaseSlot is target i of n's first slot at or after start.
func phaseSlot(start time.Time, i, n int, interval time.Duration) time.Time {
	return start.Add(time.Duration(int64(interval) * int64(i) / int64(n)))
}

// nextSlot decides a target whose slot next has come (next ≤ now): send
// tells whether to probe it now, and after is its following slot, always
// after now and in the same phase as next.
func nextSlot(next, now time.Time, interval, slack time.Duration) (send bool, after time.Time) {
	late := now.Sub(next)
	send = late <= slack
	if late < interval {
		return send, next.Add(interval)
	}
	// Missed one or more whole intervals: skip them, keep the phase.
	skip := late/interval + 1
	return send, next.Add(skip * interval)
}

// pauseOf tells whether a wake-up at now that was planned for planned
// shows the agent itself was stopped (SIGSTOP, a VM freeze, a hung disk
// under a page fault): it came more than a whole interval late, so every
// target missed a slot. It returns how long the agent was gone.
func pauseOf(planned, now time.Time, interval time.Duration) (time.Duration, bool) {
	late := now.Sub(planned)
	return late, late > interval
}

// ring holds the targets in phase order and a cursor at the one due
// first. It is the scheduler without I/O.
type ring struct {
	targets []*target
	cursor  int
}

// spread gives target i its first slot at now + i·interval/n. A target
// whose probe is still out is marked respread: see Engine.schedule.
func (r *ring) spread(now time.Time, interval time.Duration) {
	for i, t := range r.targets {
		t.next = phaseSlot(now, i, len(r.targets), interval)
		t.respread = t.outstanding
	}
	r.cursor = 0
}

// due walks the targets whose slot has come by now, in slot order, moves
// each to its next slot and calls visit with the slot that came, and
// send = false for a slot missed by more than slack (skipped, not probed).
func (r *ring) due(now time.Time, interval, slack time.Duration, visit func(t *target, slot time.Time, send bool)) {
	n := len(r.targets)
	for i := 0; i < n; i++ {
		t := r.targets[r.cursor]
		if t.next.After(now) {
			return
		}
		slot := t.next
		send, after := nextSlot(slot, now, interval, slack)
		// Never skip a target twice in a row for lateness within an
		// interval: an agent starved of CPU (every wake later than the
		// slack) would otherwise stop probing altogether and freeze every
		// state; it probes at half rate instead. A stall of a whole
		// interval or more still skips, so nothing bursts after a pause.
		if !send && t.skippedLast && now.Sub(slot) < interval {
			send = true
		}
		t.skippedLast = !send
		t.next = after
		visit(t, slot, send)
		r.cursor = (r.cursor + 1) % n
	}
	// Every target was due: a stall of an interval or more. Each kept its
	// phase, so the first due is the first phase after now, not
	// necessarily the one the walk started at.
	for i, t := range r.targets {
		if t.next.Before(r.targets[r.cursor].next) {
			r.cursor = i
		}
	}
}

// wake is when the first target is due, or zero with no targets.
func (r *ring) wake() time.Time {
	if len(r.targets) == 0 {
		return time.Time{}
	}
	return r.targets[r.cursor].next
}
