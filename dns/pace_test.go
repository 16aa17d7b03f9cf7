package dns

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingProvider counts the requests the Cloudflare adapter would send
// for each call: one per type listed, one per batch. Its batches always
// fail with a transient error; its listings fail too when listFails.
type countingProvider struct {
	mu        sync.Mutex
	records   []Record
	requests  int
	listFails bool
}

func (c *countingProvider) Records(_ context.Context, _ string, types []string) ([]Record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests += len(types)
	if c.listFails {
		return nil, errors.New("HTTP 502")
	}
	return c.records, nil
}

func (c *countingProvider) Apply(context.Context, string, []Record, []Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	return errors.New("HTTP 502")
}

func (c *countingProvider) count() int { c.mu.Lock(); defer c.mu.Unlock(); return c.requests }

// runFor runs the Reconciler's loop on the fake clock for the simulated
// span, advancing the clock to each timer's deadline once the loop has
// finished its pass and set the timer.
func runFor(t *testing.T, r *Reconciler, clock *fakeClock, passes *atomic.Int64, span time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	end := clock.Now().Add(span)
	for {
		n := passes.Load()
		var at time.Time
		waitFor(t, "the loop to finish a pass and set its timer", func() bool {
			var ok bool
			at, ok = clock.Deadline()
			return passes.Load() >= max(n, 1) && ok && at.After(clock.Now())
		})
		if at.After(end) {
			return
		}
		clock.Advance(at.Sub(clock.Now()))
		waitFor(t, "the pass the timer starts", func() bool { return passes.Load() > n })
	}
}

// TestRetryRate_StaysWithinTheShare: a zone whose every batch fails (a
// 5-minute outage) costs the API no more than retryShare requests a second
// over the outage, counted, not computed.
func TestRetryRate_StaysWithinTheShare(t *testing.T) {
	ip6 := netip.MustParseAddr("2001:db8::6")
	p := &countingProvider{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"), rec("2", "www.example.com", "A", "192.0.2.2"),
		rec("6", "www.example.com", "AAAA", "2001:db8::6")}}
	clock := newFakeClock()
	var passes atomic.Int64
	h := Health{ip1: false, ip2: true, ip6: true} // one removal to make, never made
	r := NewReconciler(ReconcilerConfig{Provider: p, Health: func() Health { return h }, Log: discard(), Clock: clock,
		OnPass: func(PassReport) { passes.Add(1) }})
	r.SetGroups([]Group{{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2, ip6}, TTL: 60}}, time.Hour)
	start := clock.Now()
	runFor(t, r, clock, &passes, 5*time.Minute)
	took := clock.Now().Sub(start).Seconds()
	rate := float64(p.count()) / took
	t.Logf("%d requests in %d passes over %.0f s: %.2f requests/s", p.count(), passes.Load(), took, rate)
	if rate > retryShare {
		t.Errorf("retries ran at %.2f requests/s, over the %.1f/s share", rate, retryShare)
	}
	if passes.Load() < 30 {
		t.Errorf("only %d tries in 5 minutes: the API coming back would go unnoticed too long", passes.Load())
	}
}

// TestRetryRate_StandbyListsAtItsPeriod: a standby agent whose listings
// fail tries again at its reconcile period, however often it is kicked,
// and at once when it becomes the writer.
func TestRetryRate_StandbyListsAtItsPeriod(t *testing.T) {
	p := &countingProvider{listFails: true}
	clock := newFakeClock()
	var passes atomic.Int64
	var writer atomic.Bool
	h := Health{ip1: true, ip2: true}
	r := NewReconciler(ReconcilerConfig{Provider: p, Health: func() Health { return h }, Log: discard(), Clock: clock,
		Writer: func() (bool, string) { return writer.Load(), "n2" }, OnPass: func(PassReport) { passes.Add(1) }})
	r.SetGroups([]Group{small}, time.Minute)
	runFor(t, r, clock, &passes, 5*time.Minute)
	if n := p.count(); n > 6 {
		t.Errorf("a standby agent listed %d times in 5 minutes with a 1-minute period, want at most 6", n)
	}
	// Kicks while standby do not list sooner; becoming the writer does.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the loop's first, failed pass", func() bool {
		at, ok := clock.Deadline()
		return ok && at.After(clock.Now()) && passes.Load() > 5
	})
	n := passes.Load()
	clock.Advance(10 * time.Second) // past the writer's retry hold
	r.Kick()
	waitFor(t, "the kick taken", func() bool { return len(r.kick) == 0 })
	writer.Store(true)
	r.Kick()
	waitFor(t, "the new writer's pass", func() bool { return passes.Load() > n })
	if got := passes.Load(); got != n+1 {
		t.Errorf("%d passes after the kicks, want exactly 1 (the one as writer)", got-n)
	}
}

// TestRateLimit_FloorGrowsAcross429s: a 429 without a Retry-After, or with
// Retry-After: 0, holds at least rateLimitFloor; 429s in a row double the
// floor up to rateLimitMax; a longer Retry-After is honoured exactly; a
// good pass starts the floor again.
func TestRateLimit_FloorGrowsAcross429s(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := NewReconciler(ReconcilerConfig{Provider: &memProvider{}, Health: func() Health { return nil }, Log: discard(), Now: func() time.Time { return now }})
	r.SetGroups([]Group{small}, time.Minute)
	limited := func(wait time.Duration) time.Duration {
		return r.backoff(&RetryAfterError{Wait: wait, Err: errors.New("429")})
	}
	if d := limited(0); d != 2*time.Second {
		t.Errorf("a 429 with Retry-After: 0 held %s, want 2s", d)
	}
	for i, want := range []time.Duration{4 * time.Second, 8 * time.Second, 16 * time.Second} {
		if d := limited(0); d != want {
			t.Errorf("429 number %d in a row without Retry-After held %s, want %s", i+2, d, want)
		}
	}
	if d := limited(90 * time.Second); d != 90*time.Second {
		t.Errorf("Retry-After: 90 held %s", d)
	}
	for range 20 {
		limited(0)
	}
	if d := limited(0); d != rateLimitMax {
		t.Errorf("after many 429s the floor is %s, want %s", d, rateLimitMax)
	}
	if at := r.holdUntil; !at.Equal(now.Add(rateLimitMax)) {
		t.Errorf("hold until +%s, want +%s", at.Sub(now), rateLimitMax)
	}
	r.Pass(context.Background())
	if d := limited(0); d != rateLimitFloor {
		t.Errorf("after a good pass a 429 held %s, want the floor %s again", d, rateLimitFloor)
	}
}

// A provider whose rate limit spans a short window (Route 53: a second)
// is held about one window per throttle for windowTries in a row, then the
// hold doubles; a good pass starts over. Before, every throttle took the
// 2 s floor doubling at once (2, 4, 8 s: a restore 14 s late in a chaos
// run, behind the standbys' listings).
func TestRateLimit_ShortWindow(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := NewReconciler(ReconcilerConfig{Provider: &memProvider{}, Health: func() Health { return nil }, Log: discard(), Now: func() time.Time { return now }})
	r.SetGroups([]Group{small}, time.Minute)
	w := 1100 * time.Millisecond
	throttled := func() time.Duration {
		return r.backoff(&RetryAfterError{Window: w, Err: errors.New("Throttling")})
	}
	for i, base := range []time.Duration{w, w, w, 2 * w, 4 * w} {
		if d := throttled(); d < base || d > base+base/2 {
			t.Errorf("throttle %d in a row held %s, want from %s to %s", i+1, d, base, base+base/2)
		}
	}
	r.Pass(context.Background())
	if d := throttled(); d < w || d > w+w/2 {
		t.Errorf("after a good pass a throttle held %s, want about one window", d)
	}
	// A wait the provider names is honoured as before.
	if d := r.backoff(&RetryAfterError{Wait: 30 * time.Second, Window: w, Err: errors.New("429")}); d != 30*time.Second {
		t.Errorf("a named wait held %s, want 30s", d)
	}
}
