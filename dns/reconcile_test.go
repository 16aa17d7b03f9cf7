package dns

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
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
	lists   int
	applies int
}

func (m *memProvider) Records(_ context.Context, zone string, types []string) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lists++
	if m.fail != nil {
		return nil, m.fail
	}
	return append([]Record(nil), m.records...), nil
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
	if !strings.Contains(logs.String(), `msg="dns record deleted" zone=example.com name=www.example.com type=A content=192.0.2.1`) {
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

// TestReconciler_HonoursRetryAfter runs the loop with a provider that
// answers 429: no request goes out until the Retry-After has passed.
func TestReconciler_HonoursRetryAfter(t *testing.T) {
	p := &memProvider{fail: &RetryAfterError{Wait: 300 * time.Millisecond, Err: errors.New("429")}}
	r, _, _ := newRec(t, p, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for p.listCount() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	for i := 0; i < 20; i++ { // transitions keep kicking during the hold
		r.Kick()
		time.Sleep(5 * time.Millisecond)
	}
	if n := p.listCount(); n != 1 {
		t.Fatalf("%d requests during Retry-After, want 1", n)
	}
	for p.listCount() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if held := time.Since(start); held < 200*time.Millisecond {
		t.Errorf("second request after %s, before the 300ms Retry-After", held)
	}
}

func (m *memProvider) listCount() int { m.mu.Lock(); defer m.mu.Unlock(); return m.lists }

func TestReconciler_BackoffGrowsAndResets(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := NewReconciler(ReconcilerConfig{Provider: &memProvider{}, Health: func() Health { return nil }, Log: discard(), Now: func() time.Time { return now }})
	var prev time.Duration
	for i := 0; i < 12; i++ {
		d := r.backoff(errors.New("502"))
		if d < prev*3/4 || d > maxBackoff {
			t.Fatalf("failure %d: backoff %s after %s", i+1, d, prev)
		}
		prev = d
	}
	if prev < maxBackoff*3/4 {
		t.Errorf("backoff after 12 failures = %s, want near %s", prev, maxBackoff)
	}
	if d := r.backoff(&RetryAfterError{Wait: 90 * time.Second}); d != 90*time.Second {
		t.Errorf("Retry-After 90s gave hold %s", d)
	}
	r.SetGroups(nil, time.Minute)
	r.Pass(context.Background())
	if d := r.backoff(errors.New("502")); d > minBackoff {
		t.Errorf("after a good pass the backoff restarted at %s, want <= %s", d, minBackoff)
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

// TestReconciler_FenceBeforeEveryApply: the writer check is asked again
// right before the batch, after listing and planning; a refusal sends
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
	if p.applies != 1 || fences != 2 || p.contents("www.example.com") != "192.0.2.1" {
		t.Fatalf("lease held: %d applies after %d fences", p.applies, fences)
	}
}
