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
	wait := min(time.Minute, retryFloor(1)*20) // permanentWait for one zone
	waitFor(t, "the refusal, and the loop waiting "+wait.String(), func() bool {
		at, ok := clock.Deadline()
		return p.listCount() == 1 && ok && at.Equal(start.Add(wait))
	})
	if !strings.Contains(logs.String(), "retry_in="+wait.String()) {
		t.Fatalf("no retry_in=%s in the log:\n%s", wait, logs.String())
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
	clock.Advance(start.Add(wait).Sub(clock.Now()))
	waitFor(t, "the retry at +"+wait.String(), func() bool { return p.listCount() == 2 })
	if at := p.lastListAt(); !at.Equal(start.Add(wait)) {
		t.Errorf("retried at +%s, want +%s", at.Sub(start), wait)
	}
}

// zoneFailProvider fails each zone's listing with its own error.
type zoneFailProvider struct {
	mu    sync.Mutex
	fail  map[string]error
	lists map[string]int
}

func (z *zoneFailProvider) Records(_ context.Context, zone string, _ []string) ([]Record, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.lists[zone]++
	return nil, z.fail[zone]
}
func (z *zoneFailProvider) Apply(context.Context, string, []Record, []Record) error { return nil }
func (z *zoneFailProvider) count(zone string) int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.lists[zone]
}

// TestReconciler_MixedFailuresSayBothWaits: one zone refused for good and
// another failing transiently: the log's retry_in is the short transient
// wait, and it says the refused zone waits longer (refused_zones_retry_in),
// which is when that zone is asked again.
func TestReconciler_MixedFailuresSayBothWaits(t *testing.T) {
	p := &zoneFailProvider{lists: map[string]int{}, fail: map[string]error{
		"example.com": &PermanentError{Err: errors.New("HTTP 403: 9109")},
		"example.net": errors.New("HTTP 502"),
	}}
	clock := newFakeClock()
	var logs syncBuffer
	r := NewReconciler(ReconcilerConfig{Provider: p, Health: func() Health { return Health{} }, Log: slog.New(slog.NewTextHandler(&logs, nil)), Clock: clock})
	net := small
	net.Zone, net.Hostnames = "example.net", []string{"www.example.net"}
	r.SetGroups([]Group{small, net}, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the first failure logged", func() bool { return strings.Contains(logs.String(), "dns reconcile failed") })
	if !strings.Contains(logs.String(), `refused_zones_retry_in="example.com=1m0s"`) {
		t.Fatalf("the refused zone's wait is not said:\n%s", logs.String())
	}
	for i := 0; i < 3; i++ { // transient retries (2 s and up each, growing with jitter: well within the minute the refused zone waits)
		// The loop logs a failure, then arms its timer: wait for the timer.
		waitFor(t, "the retry timer armed", func() bool { _, ok := clock.Deadline(); return ok })
		at, _ := clock.Deadline()
		clock.Advance(at.Sub(clock.Now()))
		want := i + 2
		waitFor(t, "a transient retry", func() bool { return p.count("example.net") >= want })
	}
	if n := p.count("example.com"); n != 1 {
		t.Errorf("the refused zone was asked %d times within %s, want once", n, clock.Now().Sub(time.Unix(1_700_000_000, 0)))
	}
}
