package dns

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestReconciler_TierSwitchMakesBeforeBreak: both primaries go down; the
// first pass creates the backup and asks for the next pass at once (a
// kick), which removes the primaries; one primary back: restored first,
// the backup withdrawn in the following pass. Each tier change is told to
// OnTier, with its evidence, and logged.
func TestReconciler_TierSwitchMakesBeforeBreak(t *testing.T) {
	g := Group{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{p1, p2, b1}, Backups: []netip.Addr{b1}, TTL: 60}
	p := &memProvider{records: []Record{rec("1", "www.example.com", "A", p1.String()), rec("2", "www.example.com", "A", p2.String())}}
	h := &health{h: Health{p1: true, p2: true, b1: true}}
	var logs bytes.Buffer
	var changes []TierChange
	r := NewReconciler(ReconcilerConfig{Provider: p, Health: h.get, Log: slog.New(slog.NewTextHandler(&logs, nil)), OnTier: func(c TierChange) { changes = append(changes, c) }})
	r.SetGroups([]Group{g}, time.Minute)
	<-r.kick // SetGroups' own kick
	ctx := context.Background()
	kicked := func() bool {
		select {
		case <-r.kick:
			return true
		default:
			return false
		}
	}
	step := func(what, want string, kick bool) {
		t.Helper()
		if rep := r.Pass(ctx); rep.Err != nil {
			t.Fatal(rep.Err)
		}
		if got := p.contents("www.example.com"); got != want {
			t.Fatalf("%s: records %s, want %s", what, got, want)
		}
		if k := kicked(); k != kick {
			t.Errorf("%s: kicked %v, want %v", what, k, kick)
		}
	}
	step("steady", "192.0.2.11,192.0.2.12", false)
	h.set(p1, false)
	h.set(p2, false)
	step("primaries down: backup created first", "192.0.2.11,192.0.2.12,198.51.100.21", true)
	step("next pass: primaries removed", "198.51.100.21", false)
	h.set(p1, true)
	step("a primary back: restored first", "198.51.100.21,192.0.2.11", true)
	step("next pass: backup withdrawn", "192.0.2.11", false)
	var got []string
	for _, c := range changes {
		got = append(got, string(c.From)+">"+string(c.Tier)+" "+c.Evidence())
	}
	if want := "primary>backup 0 of 2 primaries up (min_primary_up 1), 1 of 1 backups up;backup>primary 1 of 2 primaries up (min_primary_up 1), 1 of 1 backups up"; strings.Join(got, ";") != want {
		t.Errorf("tier changes %q, want %q", strings.Join(got, ";"), want)
	}
	if !strings.Contains(logs.String(), `msg="serving www.example.com A from the backup tier" zone=example.com name=www.example.com type=A from=primary tier=backup primaries_up=0 primaries=2`) {
		t.Errorf("no tier change log line:\n%s", logs.String())
	}
}

// TestReconciler_HoldsRemovalsUntilServed: with Propagated set, the
// primaries' removals wait until the zone's nameservers serve the backup,
// not only until the listing shows it; a removal with nothing of its type
// staying (the only AAAA) is not held.
func TestReconciler_HoldsRemovalsUntilServed(t *testing.T) {
	g := Group{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{p1, p2, b1, v6p}, Backups: []netip.Addr{b1}, TTL: 60}
	p := &memProvider{records: []Record{rec("1", "www.example.com", "A", p1.String()), rec("2", "www.example.com", "A", p2.String()), rec("6", "www.example.com", "AAAA", v6p.String())}}
	h := &health{h: Health{p1: false, p2: false, b1: true, v6p: false}}
	served := map[string]bool{p1.String(): true, p2.String(): true, v6p.String(): true}
	r := NewReconciler(ReconcilerConfig{Provider: p, Health: h.get, Log: discard(),
		Propagated: func(zone string, rec Record) bool { return served[rec.Content] }})
	r.SetGroups([]Group{g}, time.Minute)
	ctx := context.Background()
	pass := func(what, want string) ZonePlan {
		t.Helper()
		rep := r.Pass(ctx)
		if rep.Err != nil {
			t.Fatal(rep.Err)
		}
		if got := p.contents("www.example.com"); got != want {
			t.Fatalf("%s: records %s, want %s", what, got, want)
		}
		return rep.Plans[0]
	}
	// The AAAA's type has no backup: fail-open keeps it.
	pass("backup created first", "192.0.2.11,192.0.2.12,2001:db8::11,198.51.100.21")
	if zp := pass("backup listed but not served: primaries held", "192.0.2.11,192.0.2.12,2001:db8::11,198.51.100.21"); len(zp.Waiting) != 2 {
		t.Errorf("waiting %v, want the two primaries", zp.Waiting)
	}
	served[b1.String()] = true
	pass("backup served: primaries removed", "2001:db8::11,198.51.100.21")
}

// TestReconciler_UnservedHoldsOnlyReplacements: a removal whose name keeps
// a served record of its type goes at once, even while another record is
// not served yet; one whose name would keep only unserved records waits.
// (A removal of a type's last record never happens: fail-open.)
func TestReconciler_UnservedHoldsOnlyReplacements(t *testing.T) {
	ip7 := netip.MustParseAddr("2001:db8::7")
	for _, tc := range []struct {
		name       string
		served     bool // is the AAAA that stays served?
		want       string
		wantWaited int
	}{
		{"the AAAA that stays is served", true, ip1.String() + "," + ip7.String(), 0},
		{"the AAAA that stays is not served yet", false, ip1.String() + "," + ip6.String() + "," + ip7.String(), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := Group{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip6, ip7}, TTL: 60}
			p := &memProvider{records: []Record{rec("1", "www.example.com", "A", ip1.String()), rec("6", "www.example.com", "AAAA", ip6.String()),
				rec("7", "www.example.com", "AAAA", ip7.String())}}
			r := NewReconciler(ReconcilerConfig{Provider: p, Health: func() Health { return Health{ip1: true, ip6: false, ip7: true} }, Log: discard(),
				Propagated: func(_ string, x Record) bool { return x.Content == ip7.String() && tc.served }})
			r.SetGroups([]Group{g}, time.Minute)
			rep := r.Pass(context.Background())
			if rep.Err != nil || p.contents("www.example.com") != tc.want || len(rep.Plans[0].Waiting) != tc.wantWaited {
				t.Errorf("records %s, waiting %v (err %v), want %s and %d waiting", p.contents("www.example.com"), rep.Plans[0].Waiting, rep.Err, tc.want, tc.wantWaited)
			}
		})
	}
}

// TestPropagationChecker_Propagated: a creation is not propagated while it
// waits within the bound; it is once seen, once late, or when the
// nameservers could not be asked (make before break then falls back to a
// later batch). A record never created through the checker is.
func TestPropagationChecker_Propagated(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	c := NewPropagationChecker(PropagationConfig{Bound: 30 * time.Second, Log: discard(), Now: func() time.Time { return now }})
	made := rec("n", "www.example.com", "A", b1.String())
	gone := rec("o", "www.example.com", "A", p1.String())
	c.Applied("example.com", []Record{made}, []Record{gone}, now)
	if c.Propagated("example.com", made) {
		t.Error("a creation waiting to be seen is propagated")
	}
	if !c.Propagated("example.com", rec("x", "www.example.com", "A", p2.String())) || !c.Propagated("example.net", made) {
		t.Error("a record the checker never saw created is not propagated")
	}
	k := "example.com|www.example.com|A|" + b1.String()
	for _, tc := range []struct {
		name string
		set  func(p *Propagation)
	}{
		{"seen", func(p *Propagation) { p.SeenAt = now }},
		{"late", func(p *Propagation) { p.Late = true }},
		{"nameservers not asked", func(p *Propagation) { p.Err = "no nameservers" }},
	} {
		c.Applied("example.com", []Record{made}, nil, now)
		c.mu.Lock()
		tc.set(c.pending[k])
		c.mu.Unlock()
		if !c.Propagated("example.com", made) {
			t.Errorf("%s: not propagated", tc.name)
		}
	}
}

// TestPropagationChecker_PropagatedAfterHandOver: a record another writer
// created moments ago (the provider's creation time within the bound) is
// not propagated until this checker sees it on the nameservers (OnServed
// then); once seen it stays propagated (not checked again); an older one
// is propagated. Such a record is never reported as a change of this
// agent's (Recent, OnVerified).
func TestPropagationChecker_PropagatedAfterHandOver(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ns := func(context.Context, string) ([]string, error) { return []string{"192.0.2.53:53"}, nil }
	servedN, verified := 0, 0
	c := NewPropagationChecker(PropagationConfig{Bound: 30 * time.Second, NameServers: ns, Log: discard(), Now: func() time.Time { return now },
		OnServed: func() { servedN++ }, OnVerified: func(Propagation) { verified++ }})
	fresh := rec("n", "www.example.com", "A", b1.String())
	fresh.Created = now.Add(-2 * time.Second)
	old := rec("o", "www.example.com", "A", p1.String())
	old.Created = now.Add(-time.Minute)
	if !c.Propagated("example.com", old) {
		t.Error("a record created a minute ago is not propagated")
	}
	if c.Propagated("example.com", fresh) {
		t.Fatal("a record created 2 s ago by another writer is propagated")
	}
	c.mu.Lock()
	p := c.pending["example.com|www.example.com|A|"+b1.String()]
	c.mu.Unlock()
	if p == nil {
		t.Fatal("the fresh record is not being checked")
	}
	if _, waiting := c.Recent(); len(waiting) != 0 {
		t.Errorf("an adopted creation is reported as waiting: %+v", waiting)
	}
	c.settle("example.com", p, []string{"192.0.2.53:53"}, seenOn{every: []string{b1.String()}, some: []string{b1.String()}}, nil, now)
	for range 2 {
		if !c.Propagated("example.com", fresh) {
			t.Error("a record seen on the nameservers is not propagated")
		}
	}
	if recent, _ := c.Recent(); servedN != 1 || verified != 0 || len(recent) != 0 {
		t.Errorf("served %d, verified %d, recent %+v: want served once and nothing reported", servedN, verified, recent)
	}
}

// TestReconciler_DryRunShowsTierChanges: without credentials (the zone as
// configured: the primaries), both primaries down: the dry run logs the
// tier it would serve, the backup's creation and the primaries' removal
// after it, and tells OnTier (mode dry_run).
func TestReconciler_DryRunShowsTierChanges(t *testing.T) {
	g := Group{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{p1, p2, b1, f1}, Backups: []netip.Addr{b1}, Fallbacks: []netip.Addr{f1}, TTL: 60}
	var logs bytes.Buffer
	var changes []TierChange
	r := NewReconciler(ReconcilerConfig{Health: func() Health { return Health{p1: false, p2: false, b1: true} }, Log: slog.New(slog.NewTextHandler(&logs, nil)),
		OnTier: func(c TierChange) { changes = append(changes, c) }})
	r.SetGroups([]Group{g}, time.Minute)
	rep := r.Pass(context.Background())
	if rep.Mode != ModeDryRun || summary(rep.Plans[0]) != "+www 198.51.100.21" || len(rep.Plans[0].Waiting) != 2 {
		t.Fatalf("dry run: mode %s, plan %s, waiting %v", rep.Mode, summary(rep.Plans[0]), rep.Plans[0].Waiting)
	}
	for _, want := range []string{
		`msg="dry-run: would serve www.example.com A from the backup tier"`,
		`msg="dry-run: would create dns record" zone=example.com name=www.example.com type=A content=198.51.100.21`,
		`msg="dry-run: would delete dns record once its replacement is created (a later pass)" zone=example.com name=www.example.com type=A content=192.0.2.11`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
	if len(changes) != 1 || changes[0].Mode != ModeDryRun || changes[0].Tier != TierBackup {
		t.Errorf("tier changes told: %+v", changes)
	}
}

// TestReconciler_ReloadForgetsTiers: a hostname whose group loses its
// backups (a reload) leaves Tiers, and so the metric.
func TestReconciler_ReloadForgetsTiers(t *testing.T) {
	g := Group{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{p1, b1}, Backups: []netip.Addr{b1}, TTL: 60}
	r := NewReconciler(ReconcilerConfig{Health: func() Health { return Health{p1: false, b1: true} }, Log: discard()})
	r.SetGroups([]Group{g}, time.Minute)
	r.Pass(context.Background())
	if got := r.Tiers(); got["www.example.com|A"] != TierBackup {
		t.Fatalf("tiers %v", got)
	}
	r.SetGroups([]Group{{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{p1}, TTL: 60}}, time.Minute)
	if got := r.Tiers(); len(got) != 0 {
		t.Errorf("tiers after the reload: %v", got)
	}
}
