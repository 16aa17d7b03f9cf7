package dns

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// memProvider is an in-memory Provider that can be told to fail.
type memProvider struct {
	mu      sync.Mutex
	records []Record
	next    int
	fail    error
	failN   int // fail only this many times; 0: always
	lists   int
	applies int
	listAt  time.Time
	clock   Clock
}

func (m *memProvider) Records(_ context.Context, zone string, types []string) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lists++
	if m.clock != nil {
		m.listAt = m.clock.Now()
	}
	if m.fail != nil && (m.failN == 0 || m.lists <= m.failN) {
		return nil, m.fail
	}
	var out []Record
	for _, r := range m.records {
		if slices.Contains(types, r.Type) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (m *memProvider) Apply(_ context.Context, zone string, creates, deletes []Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applies++
	for _, d := range deletes {
		for i, r := range m.records {
			if r.ID == d.ID {
				m.records = append(m.records[:i], m.records[i+1:]...)
				break
			}
		}
	}
	for _, c := range creates {
		m.next++
		c.ID = "new" + string(rune('a'+m.next))
		m.records = append(m.records, c)
	}
	return nil
}

func (m *memProvider) contents(name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, r := range m.records {
		if r.Name == name {
			out = append(out, r.Content)
		}
	}
	return strings.Join(out, ",")
}

type health struct {
	mu sync.Mutex
	h  Health
}

func (h *health) set(a netip.Addr, up bool) { h.mu.Lock(); h.h[a] = up; h.mu.Unlock() }
func (h *health) get() Health {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := Health{}
	for k, v := range h.h {
		out[k] = v
	}
	return out
}

var small = Group{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2}, TTL: 60, Comment: "managed by goavail"}

func newRec(t *testing.T, p Provider, dry bool) (*Reconciler, *health, *bytes.Buffer) {
	h := &health{h: Health{ip1: true, ip2: true}}
	var logs bytes.Buffer
	r := NewReconciler(ReconcilerConfig{Provider: p, DryRun: dry, Health: h.get, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	r.SetGroups([]Group{small}, time.Minute)
	return r, h, &logs
}

func TestReconciler_RemovesAndRestores(t *testing.T) {
	p := &memProvider{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"), rec("2", "www.example.com", "A", "192.0.2.2"), rec("t", "www.example.com", "TXT", "x")}}
	r, h, logs := newRec(t, p, false)
	ctx := context.Background()
	h.set(ip1, false)
	if rep := r.Pass(ctx); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if got := p.contents("www.example.com"); got != "192.0.2.2,x" {
		t.Fatalf("after down: %s", got)
	}
	h.set(ip1, true)
	r.Pass(ctx)
	if got := p.contents("www.example.com"); got != "192.0.2.2,x,192.0.2.1" {
		t.Fatalf("after up: %s", got)
	}
	if !strings.Contains(logs.String(), `msg="dns record deleted" zone=example.com action=delete name=www.example.com type=A content=192.0.2.1 id=1 result=applied`) {
		t.Errorf("no change log line:\n%s", logs)
	}
	before := p.applies
	r.Pass(ctx)
	if p.applies != before {
		t.Errorf("steady state applied again")
	}
}

func TestReconciler_HealsHandEdits(t *testing.T) {
	p := &memProvider{}
	r, _, _ := newRec(t, p, false)
	r.Pass(context.Background()) // empty zone, all up: both created
	if got := p.contents("www.example.com"); got != "192.0.2.1,192.0.2.2" {
		t.Fatalf("zone = %s", got)
	}
	p.records = p.records[1:] // a colleague deletes one by hand
	r.Pass(context.Background())
	if got := p.contents("www.example.com"); got != "192.0.2.2,192.0.2.1" {
		t.Errorf("hand delete not healed: %s", got)
	}
}

func TestReconciler_DryRunNeverWrites(t *testing.T) {
	p := &memProvider{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"), rec("2", "www.example.com", "A", "192.0.2.2")}}
	r, h, logs := newRec(t, p, true)
	h.set(ip2, false)
	for i := 0; i < 3; i++ {
		rep := r.Pass(context.Background())
		if rep.Err != nil || len(rep.Plans) != 1 || len(rep.Plans[0].Deletes) != 1 {
			t.Fatalf("pass %d: %+v", i, rep)
		}
	}
	if p.applies != 0 {
		t.Errorf("dry-run applied %d times", p.applies)
	}
	if n := strings.Count(logs.String(), "dry-run: would delete dns record"); n != 1 {
		t.Errorf("would-delete logged %d times over 3 identical passes, want 1:\n%s", n, logs)
	}
}

// TestReconciler_StandbyPlansButNeverWrites: an agent that is not the
// cluster's writer lists and plans (its status shows the plan) but sends
// no write; once it becomes the writer, the same plan is applied.
func TestReconciler_StandbyPlansButNeverWrites(t *testing.T) {
	p := &memProvider{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"), rec("2", "www.example.com", "A", "192.0.2.2")}}
	r, h, logs := newRec(t, p, false)
	var mu sync.Mutex
	writer := "agent-a"
	r.cfg.Writer = func() (bool, string) { mu.Lock(); defer mu.Unlock(); return writer == "agent-b", writer }
	h.set(ip2, false)
	for i := 0; i < 2; i++ {
		if rep := r.Pass(context.Background()); rep.Err != nil || len(rep.Plans[0].Deletes) != 1 {
			t.Fatalf("standby pass %d: %+v", i, rep)
		}
	}
	if p.applies != 0 || p.lists != 2 {
		t.Errorf("standby: %d applies, %d lists; want 0 and 2", p.applies, p.lists)
	}
	if n := strings.Count(logs.String(), "standby (writer agent-a): would delete dns record"); n != 1 {
		t.Errorf("standby plan logged %d times, want once:\n%s", n, logs)
	}
	mu.Lock()
	writer = "agent-b"
	mu.Unlock()
	r.Pass(context.Background())
	if got := p.contents("www.example.com"); got != "192.0.2.1" || p.applies != 1 {
		t.Errorf("as writer: records %s after %d applies", got, p.applies)
	}
}

func TestReconciler_NoCredentialsPlansAgainstConfig(t *testing.T) {
	r, h, logs := newRec(t, nil, false) // nil provider forces dry-run
	h.set(ip1, false)
	rep := r.Pass(context.Background())
	if rep.Err != nil || len(rep.Plans[0].Deletes) != 1 || rep.Plans[0].Deletes[0].Content != "192.0.2.1" {
		t.Fatalf("plan = %+v", rep)
	}
	if !strings.Contains(logs.String(), "dry-run: would delete") {
		t.Errorf("logs:\n%s", logs)
	}
}

// TestReconciler_HonoursRetryAfterExactly runs the loop on a fake clock
// with a provider that answers 429 with a 3 s Retry-After once: no request
// goes out before the 3 s, transitions during the hold send nothing, and
// the moment the hold ends one pass lists and applies the transition made
// during it.
func TestReconciler_HonoursRetryAfterExactly(t *testing.T) {
	p := &memProvider{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"), rec("2", "www.example.com", "A", "192.0.2.2")},
		fail: &RetryAfterError{Wait: 3 * time.Second, Err: errors.New("429")}, failN: 1}
	clock := newFakeClock()
	p.clock = clock
	h := &health{h: Health{ip1: true, ip2: true}}
	r := NewReconciler(ReconcilerConfig{Provider: p, Health: h.get, Log: discard(), Clock: clock})
	r.SetGroups([]Group{small}, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	start := clock.Now()
	waitFor(t, "the 429, and the loop holding for 3 s", func() bool {
		at, ok := clock.Deadline()
		return p.listCount() == 1 && ok && at.Equal(start.Add(3*time.Second))
	})
	h.set(ip1, false) // a transition during the hold
	for i := 0; i < 20; i++ {
		r.Kick()
	}
	clock.Advance(3*time.Second - time.Millisecond)
	waitFor(t, "the loop to take the kicks and hold on", func() bool {
		at, ok := clock.Deadline()
		return ok && at.Equal(start.Add(3*time.Second)) && len(r.kick) == 0
	})
	if n := p.listCount(); n != 1 {
		t.Fatalf("%d requests before the Retry-After ended, want 1", n)
	}
	clock.Advance(time.Millisecond)
	waitFor(t, "the transition applied when the hold ends", func() bool { return p.contents("www.example.com") == "192.0.2.2" })
	if at := p.lastListAt(); !at.Equal(start.Add(3 * time.Second)) {
		t.Errorf("second request at +%s, want exactly +3s", at.Sub(start))
	}
}

// waitFor polls a condition the code under test reaches on its own; the
// bound is patience on a loaded machine, not a timing check.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (m *memProvider) listCount() int { m.mu.Lock(); defer m.mu.Unlock(); return m.lists }
func (m *memProvider) lastListAt() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.listAt
}

func TestReconciler_BackoffGrowsAndResets(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := NewReconciler(ReconcilerConfig{Provider: &memProvider{}, Health: func() Health { return nil }, Log: discard(), Now: func() time.Time { return now }})
	r.SetGroups([]Group{small}, time.Minute)
	floor := retryFloor(1)
	var prev time.Duration
	for i := 0; i < 12; i++ {
		d := r.backoff(errors.New("502"))
		if d < floor || d < prev/2 || d > floor*retryGrowth*3/2 {
			t.Fatalf("failure %d: backoff %s after %s (floor %s)", i+1, d, prev, floor)
		}
		prev = d
	}
	if prev < floor*retryGrowth {
		t.Errorf("backoff after 12 failures = %s, want at least %s", prev, floor*retryGrowth)
	}
	if d := r.backoff(&RetryAfterError{Wait: 90 * time.Second}); d != 90*time.Second {
		t.Errorf("Retry-After 90s gave hold %s", d)
	}
	if d := r.backoff(&RetryAfterError{Wait: 4500 * time.Millisecond}); d != 4500*time.Millisecond {
		t.Errorf("Retry-After-Ms 4500 gave hold %s", d) // over the 4 s floor of a second 429 in a row
	}
	r.Pass(context.Background())
	if d := r.backoff(errors.New("502")); d > floor*3/2 {
		t.Errorf("after a good pass the backoff restarted at %s, want <= %s", d, floor*3/2)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestReconciler_RemovalLimitDefers: with max_removals 2 per 10 minutes, a
// pass that wants 4 removals makes 2, the next pass in the window makes
// none, and once the window has slid the rest go.
func TestReconciler_RemovalLimitDefers(t *testing.T) {
	p := &memProvider{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"), rec("2", "www.example.com", "A", "192.0.2.2"),
		rec("3", "api.example.com", "A", "192.0.2.1"), rec("4", "api.example.com", "A", "192.0.2.2"),
		rec("5", "www.example.com", "A", "192.0.2.3"), rec("6", "api.example.com", "A", "192.0.2.3")}}
	now := time.Unix(1700000000, 0)
	h := &health{h: Health{ip1: false, ip2: false, ip3: true}}
	r := NewReconciler(ReconcilerConfig{Provider: p, Health: h.get, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now },
		Safety: Safety{MaxRemovals: 2, RemovalWindow: 10 * time.Minute}})
	r.SetGroups([]Group{{Zone: "example.com", Hostnames: []string{"www.example.com", "api.example.com"}, Addrs: []netip.Addr{ip1, ip2, ip3}, TTL: 60}}, time.Minute)
	count := func() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.records) }
	rep := r.Pass(context.Background())
	if count() != 4 || len(rep.Plans[0].Deferred) != 2 {
		t.Fatalf("first pass: %d records left, deferred %v", count(), rep.Plans[0].Deferred)
	}
	now = now.Add(5 * time.Minute)
	if r.Pass(context.Background()); count() != 4 {
		t.Fatalf("within the window: %d records left, want 4", count())
	}
	now = now.Add(6 * time.Minute)
	if r.Pass(context.Background()); count() != 2 {
		t.Fatalf("after the window: %d records left, want 2 (192.0.2.3 on both names)", count())
	}
}

// TestReconciler_DampsAFlappingAddress: an address that keeps going down
// and up is held out of DNS after a bounded number of changes.
func TestReconciler_DampsAFlappingAddress(t *testing.T) {
	p := &memProvider{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"), rec("2", "www.example.com", "A", "192.0.2.2")}}
	now := time.Unix(1700000000, 0)
	h := &health{h: Health{ip1: true, ip2: true}}
	r := NewReconciler(ReconcilerConfig{Provider: p, Health: h.get, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now },
		Safety: Safety{Damping: Damping{HalfLife: 5 * time.Minute, Suppress: 2.5, Reuse: 0.75}}})
	r.SetGroups([]Group{small}, time.Minute)
	for i := 0; i < 40; i++ {
		h.set(ip1, i%2 == 0) // up first, as after warm-up
		r.Pass(context.Background())
		now = now.Add(5 * time.Second)
	}
	if p.applies > 6 {
		t.Errorf("%d applies for 40 flips, want at most 6", p.applies)
	}
	if got := p.contents("www.example.com"); got != "192.0.2.2" {
		t.Errorf("after flapping: %s, want the flapping address held out", got)
	}
}

// TestReconciler_FenceBeforeEveryApply: the writer check is asked before
// the zone is listed and again right before the batch; a refusal sends
// nothing, and an accepted batch runs under the fence's context.
func TestReconciler_FenceBeforeEveryApply(t *testing.T) {
	p := &memProvider{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"), rec("2", "www.example.com", "A", "192.0.2.2")}}
	r, h, logs := newRec(t, p, false)
	r.cfg.Writer = func() (bool, string) { return true, "me" } // writer when the pass starts
	lost := true
	fences := 0
	r.cfg.Fence = func(ctx context.Context) (context.Context, context.CancelFunc, error) {
		fences++
		if lost {
			return ctx, func() {}, errors.New("lease lapsed")
		}
		c, cancel := context.WithTimeout(ctx, time.Minute)
		return c, cancel, nil
	}
	h.set(ip2, false)
	r.Pass(context.Background())
	if p.applies != 0 || fences != 1 || !strings.Contains(logs.String(), "batch not sent") {
		t.Fatalf("lost lease: %d applies after %d fences\n%s", p.applies, fences, logs)
	}
	lost = false
	r.Pass(context.Background())
	if p.applies != 1 || fences != 3 || p.contents("www.example.com") != "192.0.2.1" { // before the listing, before the batch
		t.Fatalf("lease held: %d applies after %d fences", p.applies, fences)
	}
}

// slowProvider is a memProvider whose listing takes apiWait on the clock.
type slowProvider struct {
	*memProvider
	clock   *fakeClock
	apiWait time.Duration
}

func (s *slowProvider) Records(ctx context.Context, zone string, types []string) ([]Record, error) {
	s.clock.Advance(s.apiWait)
	return s.memProvider.Records(ctx, zone, types)
}

// TestReconciler_PacesPassesByTheirWork: a pass that computes for 400 ms
// (health, plans) is followed by at least 400 ms without one, however
// often it is kicked, and a kick meanwhile runs the pass the moment the
// pause ends; the 2 s it waits for the API do not count.
func TestReconciler_PacesPassesByTheirWork(t *testing.T) {
	clock := newFakeClock()
	mp := &memProvider{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"), rec("2", "www.example.com", "A", "192.0.2.2")}, clock: clock}
	p := &slowProvider{memProvider: mp, clock: clock, apiWait: 2 * time.Second}
	h := &health{h: Health{ip1: true, ip2: true}}
	work := func() Health { clock.Advance(400 * time.Millisecond); return h.get() }
	r := NewReconciler(ReconcilerConfig{Provider: p, Health: work, Log: discard(), Clock: clock})
	r.SetGroups([]Group{small}, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the first pass", func() bool { return mp.listCount() == 1 && r.Last().Work > 0 })
	if w := r.Last().Work; w != 400*time.Millisecond {
		t.Fatalf("Work = %s, want 400ms (the API's 2 s excluded)", w)
	}
	end := clock.Now()
	h.set(ip1, false)
	for range 20 {
		r.Kick()
	}
	waitFor(t, "the kicks held until the pause ends", func() bool {
		at, ok := clock.Deadline()
		return ok && at.Equal(end.Add(400*time.Millisecond)) && len(r.kick) == 0
	})
	clock.Advance(399 * time.Millisecond)
	// The loop sleeps on its timer (the kicks are taken): a timer still
	// armed for the pause's end has not fired, so no pass can have started.
	if at, ok := clock.Deadline(); !ok || !at.Equal(end.Add(400*time.Millisecond)) {
		t.Fatalf("timer %v (armed %v), want it still armed for the pause's end", at, ok)
	}
	if n := mp.listCount(); n != 1 {
		t.Fatalf("%d passes inside the pause, want 1", n)
	}
	clock.Advance(time.Millisecond)
	waitFor(t, "the transition applied when the pause ends", func() bool { return mp.contents("www.example.com") == "192.0.2.2" })
}
