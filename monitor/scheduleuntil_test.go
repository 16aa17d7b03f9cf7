package monitor

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// scheduleUntil runs e's scheduler (alone: no reader) until cond holds:
// the event a test waits for, instead of a wall-clock window that a loaded
// machine overruns (the test then fails) or that passes before anything
// happened (the test then tests nothing). The bound is patience only.
func scheduleUntil(t *testing.T, e *Engine, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.schedule(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
	}
}

// accepted counts the requests q accepted, by target.
func (q *reviewLoop) accepted() map[netip.Addr]int {
	n := map[netip.Addr]int{}
	for _, w := range q.snapshot() {
		for _, s := range w {
			n[s.addr]++
		}
	}
	return n
}

// callCount is how many WriteBatch calls q has had.
func (q *reviewLoop) callCount() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.calls
}

// answered counts the OK results of rs by target.
func answered(rs []Result) map[netip.Addr]int {
	n := map[netip.Addr]int{}
	for _, r := range rs {
		if r.OK {
			n[r.Addr]++
		}
	}
	return n
}
