package providertest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/clock/clocktest"
)

// providers is the contract's table: every provider goavail has. A
// provider is one entry more: a func returning its provider value, in a
// file provider_<name>_test.go.
func providers() []provider {
	return []provider{cloudflareProvider(), bindProvider(), route53Provider()}
}

// provider is one entry of the table.
type provider struct {
	name string
	// start builds a fresh provider holding env's zones and their seed
	// records, stopped when t ends.
	start func(t *testing.T, env env) *world
}

// env is what a scenario asks of a provider's world.
type env struct {
	zones []zoneSpec
	// names are the managed hostnames of a zone (the config's), for a
	// provider that reads by name (RFC 2136).
	names func(zone string) []string
	// timeout is the provider's bound on one request (its config's
	// request timeout); 0: 5 s.
	timeout time.Duration
}

// zoneSpec is one zone of a world.
type zoneSpec struct {
	name string
	seed []rec
	// refuseWrites: the provider refuses every write to the zone
	// permanently (the permanent fault), while it still answers reads.
	refuseWrites bool
}

// world is a running provider and the handles the scenarios use on it.
type world struct {
	// provider is the dns.Provider the agent would build for it.
	provider dns.Provider
	// read returns the records the provider itself holds at names in
	// zone (A, AAAA and TXT; the zone fence left out).
	read func(t *testing.T, zone string, names ...string) []rec
	// stale changes zone behind the core's back, the way the provider's
	// fence must catch: it adds r.
	stale func(t *testing.T, zone string, r rec)
	// transient makes the next write to zone fail once, transiently,
	// with nothing of it applied.
	transient func(t *testing.T, zone string)
	// loseAnswer makes the next write to zone land while its answer is
	// lost: the core cannot know it was applied.
	loseAnswer func(t *testing.T, zone string)
	// writes counts the write requests the provider answered for zone so
	// far: applied, and refused or failed (nothing applied). A provider
	// may spend more than one request on a write (Cloudflare makes a
	// fresh zone's fence in a batch of its own).
	writes func(zone string) (ok, failed int)
	// pageSize makes every listing span pages of n records; it returns
	// why it cannot, when the provider has no pages.
	pageSize func(t *testing.T, n int) (cannot string)
	// latency delays every answer to a listing request by d, as a distant
	// API or primary would.
	latency func(t *testing.T, d time.Duration)
	// pagesRead is how many listing requests asked for a page after the
	// first, so far.
	pagesRead func() int
	// keepsComments: the provider stores a record's comment and tags.
	keepsComments bool
	// oneTTLPerRRset, when set, says why the provider cannot hold records
	// of one name and type with different TTLs.
	oneTTLPerRRset string
}

// rec is a record as the provider holds it.
type rec struct {
	name, typ, content string
	ttl                int
	comment            string
	tags               []string
}

// show is r as the scenarios compare it; the comment and tags only where
// the provider keeps them.
func (r rec) show(comments bool) string {
	s := fmt.Sprintf("%s %s %s ttl=%d", r.name, r.typ, r.content, r.ttl)
	if comments && (r.comment != "" || len(r.tags) > 0) {
		s += fmt.Sprintf(" comment=%q tags=%s", r.comment, strings.Join(r.tags, ","))
	}
	return s
}

var (
	ip1 = netip.MustParseAddr("192.0.2.1")
	ip2 = netip.MustParseAddr("192.0.2.2")
	ip3 = netip.MustParseAddr("192.0.2.3")
)

func a(name, content string, ttl int) rec {
	return rec{name: name, typ: "A", content: content, ttl: ttl}
}

// TestContract runs every scenario against every provider.
func TestContract(t *testing.T) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, p provider)
	}{
		{"remove, restore and exact restore", scenarioRemoveRestore},
		{"unmanaged records untouched", scenarioUnmanaged},
		{"a create leaves its neighbours' TTL", scenarioNeighbourTTL},
		{"stale plan refused, listed and planned again", scenarioStale},
		{"permanent error held while the rest lands", scenarioPermanent},
		{"transient error retried under the core's pacing", scenarioTransient},
		{"a write applied with its answer lost", scenarioLostAnswer},
		{"fail-open keeps a name whose addresses are all down", scenarioFailOpen},
		{"listing spans pages", scenarioPagination},
		{"a listing longer than one request's timeout", scenarioSlowListing},
	}
	for _, p := range providers() {
		t.Run(p.name, func(t *testing.T) {
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) { sc.run(t, p) })
			}
		})
	}
}

// health is the addresses' state, changed by the scenario.
type health struct {
	mu sync.Mutex
	h  dns.Health
}

func newHealth(h dns.Health) *health { return &health{h: h} }

func (h *health) set(a netip.Addr, up bool) { h.mu.Lock(); h.h[a] = up; h.mu.Unlock() }
func (h *health) get() dns.Health {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := dns.Health{}
	for k, v := range h.h {
		out[k] = v
	}
	return out
}

// core is the dns core as the agent wires it over one world.
type core struct {
	r     *dns.Reconciler
	clock *clocktest.Clock
}

// newCore builds a Reconciler on provider for groups, on a fake clock,
// logging into a buffer shown when the test fails.
func newCore(t *testing.T, provider dns.Provider, h *health, groups []dns.Group, onPass func(dns.PassReport)) core {
	t.Helper()
	var mu sync.Mutex
	var logs bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			t.Logf("core's log:\n%s", logs.String())
			mu.Unlock()
		}
	})
	clock := clocktest.New()
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: provider, Health: h.get, Clock: clock, OnPass: onPass,
		Log:   slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &logs}, nil)),
		Stamp: func() dns.FenceStamp { return dns.FenceStamp{Deployment: "goavail", Writer: "contract", Term: 1} }})
	r.SetGroups(groups, time.Minute)
	return core{r: r, clock: clock}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// pass runs one pass and fails the test on an error.
func (c core) pass(t *testing.T) dns.PassReport {
	t.Helper()
	rep := c.r.Pass(context.Background())
	if rep.Err != nil {
		t.Fatalf("pass: %v", rep.Err)
	}
	return rep
}

// namesOf is env.names for groups: their hostnames by zone.
func namesOf(groups []dns.Group) func(string) []string {
	return func(zone string) []string {
		var out []string
		for _, g := range groups {
			if g.Zone == zone {
				out = append(out, g.Hostnames...)
			}
		}
		return out
	}
}

// expect compares the provider's records at names with want.
func expect(t *testing.T, w *world, when, zone string, names []string, want ...rec) {
	t.Helper()
	got := shown(w.read(t, zone, names...), w.keepsComments)
	if exp := shown(want, w.keepsComments); !slices.Equal(got, exp) {
		t.Fatalf("%s: the provider holds\n\t%s\nwant\n\t%s", when, strings.Join(got, "\n\t"), strings.Join(exp, "\n\t"))
	}
}

func shown(rs []rec, comments bool) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.show(comments))
	}
	slices.Sort(out)
	return out
}

// scenarioRemoveRestore: a down address is removed; back up, it is
// restored exactly as it was: its comment and tags where the provider
// keeps them, and its own TTL where the group sets none (ttl = 0: keep
// each record's own; a TTL the group sets wins, by design: see
// Memory.Restore). An address the zone never had is created as the
// config says.
func scenarioRemoveRestore(t *testing.T, p provider) {
	const zone = "example.com"
	www, api := "www."+zone, "api."+zone
	hand := a(www, "192.0.2.1", 300)
	hand.comment, hand.tags = "added by hand", []string{"team:web"}
	v6a, v6b := rec{name: www, typ: "AAAA", content: "2001:db8::1", ttl: 300, comment: "v6 by hand"}, rec{name: www, typ: "AAAA", content: "2001:db8::2", ttl: 300}
	ip6a, ip6b := netip.MustParseAddr(v6a.content), netip.MustParseAddr(v6b.content)
	groups := []dns.Group{
		{Zone: zone, Hostnames: []string{www}, Addrs: []netip.Addr{ip1, ip2, ip6a, ip6b}, Comment: "managed by goavail"},
		{Zone: zone, Hostnames: []string{api}, Addrs: []netip.Addr{ip2, ip3}, TTL: 60, Comment: "managed by goavail"},
	}
	w := p.start(t, env{names: namesOf(groups), zones: []zoneSpec{{name: zone, seed: []rec{hand, a(www, "192.0.2.2", 300), v6a, v6b, a(api, "192.0.2.2", 60)}}}})
	h := newHealth(dns.Health{ip1: false, ip2: true, ip3: true, ip6a: false, ip6b: true})
	c := newCore(t, w.provider, h, groups, nil)
	created := a(api, "192.0.2.3", 60)
	created.comment = "managed by goavail"
	c.pass(t)
	expect(t, w, "192.0.2.1 and 2001:db8::1 down", zone, []string{www, api}, a(www, "192.0.2.2", 300), v6b, a(api, "192.0.2.2", 60), created)
	h.set(ip1, true)
	h.set(ip6a, true)
	c.pass(t)
	expect(t, w, "back up", zone, []string{www, api}, hand, a(www, "192.0.2.2", 300), v6a, v6b, a(api, "192.0.2.2", 60), created)
}

// scenarioUnmanaged: records goavail does not manage stay as they are:
// another name (with a down address), another type, a TXT record at a
// managed name, and another address at a managed name.
func scenarioUnmanaged(t *testing.T, p provider) {
	const zone = "example.com"
	www, other := "www."+zone, "other."+zone
	groups := []dns.Group{{Zone: zone, Hostnames: []string{www}, Addrs: []netip.Addr{ip1, ip2}, TTL: 60}}
	keep := []rec{
		a(other, "192.0.2.1", 60),
		{name: www, typ: "TXT", content: "keep me", ttl: 60},
		{name: www, typ: "AAAA", content: "2001:db8::99", ttl: 60},
	}
	seed := append([]rec{a(www, "192.0.2.1", 60), a(www, "192.0.2.2", 60), a(www, "192.0.2.99", 60)}, keep...)
	w := p.start(t, env{names: namesOf(groups), zones: []zoneSpec{{name: zone, seed: seed}}})
	c := newCore(t, w.provider, newHealth(dns.Health{ip1: false, ip2: true}), groups, nil)
	c.pass(t)
	c.pass(t) // and again: a pass with nothing to do changes nothing
	expect(t, w, "after two passes", zone, []string{www, other}, append([]rec{a(www, "192.0.2.2", 60), a(www, "192.0.2.99", 60)}, keep...)...)
}

// scenarioNeighbourTTL: creating a record at a name leaves the records
// already there as they were, their TTL included, when the config's TTL
// differs from the zone's: they are not goavail's to retime (an
// unmanaged address among them). The new record has the config's TTL, or,
// on a provider whose records of one name and type share one TTL, the
// TTL the set already has.
func scenarioNeighbourTTL(t *testing.T, p provider) {
	const zone = "example.com"
	www := "www." + zone
	groups := []dns.Group{{Zone: zone, Hostnames: []string{www}, Addrs: []netip.Addr{ip1, ip2}, TTL: 60}}
	seed := []rec{a(www, "192.0.2.1", 300), a(www, "192.0.2.99", 300)}
	w := p.start(t, env{names: namesOf(groups), zones: []zoneSpec{{name: zone, seed: seed}}})
	created := a(www, "192.0.2.2", 60)
	if w.oneTTLPerRRset != "" {
		t.Logf("the new record takes the set's TTL: %s", w.oneTTLPerRRset)
		created.ttl = 300
	}
	c := newCore(t, w.provider, newHealth(dns.Health{ip1: true, ip2: true}), groups, nil)
	c.pass(t)
	expect(t, w, "after 192.0.2.2 was created", zone, []string{www}, append(seed, created)...)
}

// hooked is a provider with a hook run once, after the next listing and
// before the write planned on it.
type hooked struct {
	dns.Provider
	mu        sync.Mutex
	afterList func()
}

func (h *hooked) Records(ctx context.Context, zone string, types []string) ([]dns.Record, error) {
	recs, err := h.Provider.Records(ctx, zone, types)
	h.mu.Lock()
	f := h.afterList
	h.afterList = nil
	h.mu.Unlock()
	if f != nil {
		f()
	}
	return recs, err
}

func (h *hooked) FenceName(zone string) string { return h.Provider.(dns.Fencer).FenceName(zone) }
func (h *hooked) ReadFence(ctx context.Context, zone string) (dns.ZoneFence, error) {
	return h.Provider.(dns.Fencer).ReadFence(ctx, zone)
}
func (h *hooked) ApplyFenced(ctx context.Context, zone string, f dns.ZoneFence, s dns.FenceStamp, creates, deletes []dns.Record) (dns.ZoneFence, error) {
	return h.Provider.(dns.Fencer).ApplyFenced(ctx, zone, f, s, creates, deletes)
}
func (h *hooked) BatchSize() int {
	if b, ok := h.Provider.(interface{ BatchSize() int }); ok {
		return b.BatchSize()
	}
	return 0
}

// scenarioStale: the zone changes between the core's listing and its
// write; the provider refuses the write whole (a FenceMovedError), and
// the core lists and plans again in the same pass, on the changed zone.
func scenarioStale(t *testing.T, p provider) {
	const zone = "example.com"
	www := "www." + zone
	groups := []dns.Group{{Zone: zone, Hostnames: []string{www}, Addrs: []netip.Addr{ip1, ip2, ip3}, TTL: 60}}
	w := p.start(t, env{names: namesOf(groups), zones: []zoneSpec{{name: zone, seed: []rec{a(www, "192.0.2.1", 60), a(www, "192.0.2.2", 60)}}}})
	hp := &hooked{Provider: w.provider}
	c := newCore(t, hp, newHealth(dns.Health{ip1: false, ip2: true, ip3: true}), groups, nil)
	// The plan on the listing: delete 192.0.2.1, create 192.0.2.3. Behind
	// the core's back 192.0.2.3 is made first.
	hp.afterList = func() { w.stale(t, zone, a(www, "192.0.2.3", 60)) }
	rep := c.pass(t)
	if n := rep.FenceRefused(); n != 1 {
		t.Errorf("%d writes refused for a moved fence, want 1 (the stale plan)", n)
	}
	if pl := rep.Plans[0]; len(pl.Creates) != 0 || len(pl.Deletes) != 1 {
		t.Errorf("the plan made after listing again: %d creates, %d deletes; want 0 and 1 (192.0.2.3 exists now)", len(pl.Creates), len(pl.Deletes))
	}
	if _, failed := w.writes(zone); failed != 1 {
		t.Errorf("the provider refused %d writes, want 1 (the stale plan)", failed)
	}
	expect(t, w, "after the pass", zone, []string{www}, a(www, "192.0.2.2", 60), a(www, "192.0.2.3", 60))
}

// scenarioPermanent: the provider refuses every write to one zone
// permanently; the other zone's changes land in the same pass and in the
// next, while the refused zone is held and left as it was.
func scenarioPermanent(t *testing.T, p provider) {
	good, bad := "example.com", "example.net"
	groups := []dns.Group{
		{Zone: good, Hostnames: []string{"www." + good}, Addrs: []netip.Addr{ip1, ip2}, TTL: 60},
		{Zone: bad, Hostnames: []string{"www." + bad}, Addrs: []netip.Addr{ip1, ip2}, TTL: 60},
	}
	seed := func(z string) []rec { return []rec{a("www."+z, "192.0.2.1", 60), a("www."+z, "192.0.2.2", 60)} }
	w := p.start(t, env{names: namesOf(groups), zones: []zoneSpec{{name: good, seed: seed(good)}, {name: bad, seed: seed(bad), refuseWrites: true}}})
	h := newHealth(dns.Health{ip1: false, ip2: true})
	c := newCore(t, w.provider, h, groups, nil)
	rep := c.r.Pass(context.Background())
	var perm *dns.PermanentError
	if !errors.As(rep.Err, &perm) || !strings.Contains(rep.Err.Error(), bad) {
		t.Fatalf("pass: %v; want a permanent error naming zone %s", rep.Err, bad)
	}
	expect(t, w, "the good zone, first pass", good, []string{"www." + good}, a("www."+good, "192.0.2.2", 60))
	expect(t, w, "the refused zone, first pass", bad, []string{"www." + bad}, seed(bad)...)
	h.set(ip1, true)
	rep = c.r.Pass(context.Background())
	if !errors.As(rep.Err, &perm) {
		t.Errorf("second pass: %v; want the refused zone's permanent error, held", rep.Err)
	}
	expect(t, w, "the good zone, second pass", good, []string{"www." + good}, seed(good)...)
	expect(t, w, "the refused zone, second pass", bad, []string{"www." + bad}, seed(bad)...)
	// (At least: Cloudflare makes a fresh zone's fence in a batch of its own.)
	if ok, failed := w.writes(good); ok < 2 || failed != 0 {
		t.Errorf("writes to %s: %d applied, %d refused; want 2 or more, and 0", good, ok, failed)
	}
	if ok, failed := w.writes(bad); ok != 0 || failed != 1 {
		t.Errorf("writes to %s: %d applied, %d refused; want 0 and 1 (held after the refusal, not retried)", bad, ok, failed)
	}
}

// scenarioTransient: the provider fails one write transiently; the core's
// loop holds for its retry pacing (at least the 2 s floor for one zone,
// on the injected clock) and the retry lands.
func scenarioTransient(t *testing.T, p provider) {
	const zone = "example.com"
	www := "www." + zone
	groups := []dns.Group{{Zone: zone, Hostnames: []string{www}, Addrs: []netip.Addr{ip1, ip2}, TTL: 60}}
	w := p.start(t, env{names: namesOf(groups), zones: []zoneSpec{{name: zone, seed: []rec{a(www, "192.0.2.1", 60), a(www, "192.0.2.2", 60)}}}})
	passes := make(chan dns.PassReport, 16)
	c := newCore(t, w.provider, newHealth(dns.Health{ip1: false, ip2: true}), groups, func(r dns.PassReport) { passes <- r })
	w.transient(t, zone)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	first := nextPass(t, passes)
	var perm *dns.PermanentError
	if first.Err == nil || errors.As(first.Err, &perm) {
		t.Fatalf("first pass: %v; want the transient failure", first.Err)
	}
	expect(t, w, "after the failed write", zone, []string{www}, a(www, "192.0.2.1", 60), a(www, "192.0.2.2", 60))
	start := c.clock.Now()
	var retryAt time.Time
	waitFor(t, "the loop to arm its retry timer", func() bool {
		at, ok := c.clock.Deadline()
		retryAt = at
		return ok && at.After(start)
	})
	if wait := retryAt.Sub(start); wait < 2*time.Second || wait > 3*time.Second {
		t.Errorf("retry after %s; want the core's pacing for one zone, 2 s to 3 s", wait)
	}
	select {
	case r := <-passes:
		t.Fatalf("a pass ran before the retry was due: %+v", r)
	default:
	}
	c.clock.Advance(retryAt.Sub(start))
	if second := nextPass(t, passes); second.Err != nil {
		t.Fatalf("the retry: %v", second.Err)
	}
	expect(t, w, "after the retry", zone, []string{www}, a(www, "192.0.2.2", 60))
	if ok, failed := w.writes(zone); ok < 1 || failed != 1 {
		t.Errorf("writes: %d applied, %d failed; want 1 or more, and 1", ok, failed)
	}
}

// scenarioLostAnswer: a restore lands but its answer is lost (the pass
// fails, transiently); the next pass lists the zone, finds the record
// there and sends nothing: no duplicate, nothing undone.
func scenarioLostAnswer(t *testing.T, p provider) {
	const zone = "example.com"
	www := "www." + zone
	groups := []dns.Group{{Zone: zone, Hostnames: []string{www}, Addrs: []netip.Addr{ip1, ip2, ip3}, TTL: 60}}
	w := p.start(t, env{names: namesOf(groups), zones: []zoneSpec{{name: zone, seed: []rec{a(www, "192.0.2.1", 60), a(www, "192.0.2.2", 60)}}}})
	h := newHealth(dns.Health{ip1: false, ip2: true, ip3: true})
	c := newCore(t, w.provider, h, groups, nil)
	c.pass(t) // the zone's first write (and its fence)
	expect(t, w, "192.0.2.1 down", zone, []string{www}, a(www, "192.0.2.2", 60), a(www, "192.0.2.3", 60))
	w.loseAnswer(t, zone)
	h.set(ip1, true)
	rep := c.r.Pass(context.Background())
	var perm *dns.PermanentError
	if rep.Err == nil || errors.As(rep.Err, &perm) {
		t.Fatalf("the pass whose answer was lost: %v; want a transient error", rep.Err)
	}
	want := []rec{a(www, "192.0.2.1", 60), a(www, "192.0.2.2", 60), a(www, "192.0.2.3", 60)}
	expect(t, w, "the restore landed, its answer lost", zone, []string{www}, want...)
	ok, failed := w.writes(zone)
	c.pass(t)
	expect(t, w, "the next pass", zone, []string{www}, want...)
	if ok2, failed2 := w.writes(zone); ok2 != ok || failed2 != failed {
		t.Errorf("the next pass wrote: writes %d/%d before, %d/%d after; want none (the restore is there)", ok, failed, ok2, failed2)
	}
}

// nextPass waits for the loop's next pass report.
func nextPass(t *testing.T, passes <-chan dns.PassReport) dns.PassReport {
	t.Helper()
	select {
	case r := <-passes:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("timed out waiting for a pass")
		return dns.PassReport{}
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

// scenarioFailOpen: every address of a name is down: the name keeps its
// records rather than go empty.
func scenarioFailOpen(t *testing.T, p provider) {
	const zone = "example.com"
	www := "www." + zone
	groups := []dns.Group{{Zone: zone, Hostnames: []string{www}, Addrs: []netip.Addr{ip1, ip2}, TTL: 60}}
	w := p.start(t, env{names: namesOf(groups), zones: []zoneSpec{{name: zone, seed: []rec{a(www, "192.0.2.1", 60), a(www, "192.0.2.2", 60)}}}})
	c := newCore(t, w.provider, newHealth(dns.Health{ip1: false, ip2: false}), groups, nil)
	rep := c.pass(t)
	if len(rep.Plans[0].FailOpen) == 0 {
		t.Errorf("the pass reports no fail-open: %+v", rep.Plans[0])
	}
	expect(t, w, "all addresses down", zone, []string{www}, a(www, "192.0.2.1", 60), a(www, "192.0.2.2", 60))
}

// scenarioPagination: the zone's listing spans many pages (or, for a
// provider read by name, many names); every name is changed and restored.
func scenarioPagination(t *testing.T, p provider) {
	const zone, names, perPage = "example.com", 40, 7
	var hosts []string
	var seed, down []rec
	for i := range names {
		n := fmt.Sprintf("h%02d.%s", i, zone)
		hosts = append(hosts, n)
		seed = append(seed, a(n, "192.0.2.1", 60), a(n, "192.0.2.2", 60))
		down = append(down, a(n, "192.0.2.2", 60))
	}
	groups := []dns.Group{{Zone: zone, Hostnames: hosts, Addrs: []netip.Addr{ip1, ip2}, TTL: 60}}
	w := p.start(t, env{names: namesOf(groups), zones: []zoneSpec{{name: zone, seed: seed}}})
	paged := w.pageSize(t, perPage)
	if paged != "" {
		t.Logf("no pages: %s; the listing reads %d names", paged, names)
	}
	h := newHealth(dns.Health{ip1: false, ip2: true})
	c := newCore(t, w.provider, h, groups, nil)
	c.pass(t)
	expect(t, w, "192.0.2.1 down", zone, hosts, down...)
	h.set(ip1, true)
	c.pass(t)
	expect(t, w, "192.0.2.1 back up", zone, hosts, seed...)
	if paged == "" {
		// Every pass lists at least the 40 names (as 80 records, or 40
		// record sets), 7 a page: at least 5 pages after the first.
		if n := w.pagesRead(); n < names/perPage {
			t.Errorf("%d requests for a page after the first; the listing did not span pages", n)
		}
	}
}

// scenarioSlowListing: every listing request takes 60 ms, under the
// provider's request timeout of 400 ms, and the listing as a whole (many pages, or
// many names) takes longer than that timeout: the timeout bounds each
// request, not the listing, so the pass still lands.
func scenarioSlowListing(t *testing.T, p provider) {
	const zone, names, perPage = "example.com", 12, 2
	const timeout, latency = 400 * time.Millisecond, 60 * time.Millisecond
	var hosts []string
	var seed, down []rec
	for i := range names {
		n := fmt.Sprintf("h%02d.%s", i, zone)
		hosts = append(hosts, n)
		seed = append(seed, a(n, "192.0.2.1", 60), a(n, "192.0.2.2", 60))
		down = append(down, a(n, "192.0.2.2", 60))
	}
	groups := []dns.Group{{Zone: zone, Hostnames: hosts, Addrs: []netip.Addr{ip1, ip2}, TTL: 60}}
	w := p.start(t, env{names: namesOf(groups), timeout: timeout, zones: []zoneSpec{{name: zone, seed: seed}}})
	w.pageSize(t, perPage) // 24 records, 12 pages; or 12 names, 12 queries
	w.latency(t, latency)
	c := newCore(t, w.provider, newHealth(dns.Health{ip1: false, ip2: true}), groups, nil)
	start := time.Now()
	c.pass(t)
	if took := time.Since(start); took < timeout {
		t.Fatalf("the pass took %s, under the request timeout %s: the scenario tests nothing", took, timeout)
	}
	expect(t, w, "after the slow pass", zone, hosts, down...)
}
