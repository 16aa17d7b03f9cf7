package dns

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink the loop and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestReconciler_PermanentErrorRetriedWhenTheLogSays: after a refused
// credential the loop logs retry_in=30s, and that is when it asks again:
// transitions kicking passes meanwhile send no request for the zone (they
// used to retry it at every kick, 2 s apart), and at +30s exactly one pass
// lists it again.
func TestReconciler_PermanentErrorRetriedWhenTheLogSays(t *testing.T) {
	p := &memProvider{fail: &PermanentError{Err: errors.New("HTTP 403: 9109 Unauthorized to access requested resource")}}
	clock := newFakeClock()
	p.clock = clock
	h := &health{h: Health{ip1: true, ip2: true}}
	var logs syncBuffer
	r := NewReconciler(ReconcilerConfig{Provider: p, Health: h.get, Log: slog.New(slog.NewTextHandler(&logs, nil)), Clock: clock})
	r.SetGroups([]Group{small}, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	start := clock.Now()
	waitFor(t, "the refusal, and the loop waiting 30 s", func() bool {
		at, ok := clock.Deadline()
		return p.listCount() == 1 && ok && at.Equal(start.Add(30*time.Second))
	})
	if !strings.Contains(logs.String(), "retry_in=30s") {
		t.Fatalf("no retry_in=30s in the log:\n%s", logs.String())
	}
	for i := 0; i < 5; i++ { // transitions 2 s apart, as in the report
		clock.Advance(2 * time.Second)
		h.set(ip1, i%2 == 0)
		r.Kick()
		waitFor(t, "the kick taken", func() bool { return len(r.kick) == 0 && r.Last().At.Equal(clock.Now()) })
	}
	if n := p.listCount(); n != 1 {
		t.Fatalf("%d requests before the 30 s the log announced, want 1", n)
	}
	if n := strings.Count(logs.String(), "dns reconcile failed"); n != 1 {
		t.Errorf("the held zone's error logged %d times, want once", n)
	}
	if err := r.Last().Err; err == nil || !strings.Contains(err.Error(), "9109") {
		t.Errorf("a held zone's pass reports %v, want the refusal", err)
	}
	clock.Advance(start.Add(30 * time.Second).Sub(clock.Now()))
	waitFor(t, "the retry at +30s", func() bool { return p.listCount() == 2 })
	if at := p.lastListAt(); !at.Equal(start.Add(30 * time.Second)) {
		t.Errorf("retried at +%s, want +30s", at.Sub(start))
	}
}
