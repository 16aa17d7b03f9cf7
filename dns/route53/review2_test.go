package route53

import (
	"context"
	"errors"
	"time"

	"github.com/goavail/goavail/dns"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"github.com/goavail/goavail/internal/r53emu"
)

// TestReview_RestoreAfterRestart: a failover PRIMARY set emptied by one
// goavail process is deleted; the restore is made by another process (a
// restart, with the state file; or another agent taking over as writer,
// with the memory the agents share), which never saw the set. The address
// goes back into the PRIMARY set it left, made again as it was; before,
// it went into the SECONDARY set, and the PRIMARY was lost for good.
func TestReview_RestoreAfterRestart(t *testing.T) {
	l := newLab(t, labOpts{names: []string{"api.example.com"}, rate: -1})
	primary := r53emu.RRSet{Name: "api.example.com", Type: "A", SetIdentifier: "api-primary", Failover: "PRIMARY", HealthCheckID: "abcdef11-2222-3333-4444-555555fedcba", TTL: i64(45), Values: []string{"198.18.1.1"}}
	l.emu.Seed(zone, primary)
	l.emu.Seed(zone, r53emu.RRSet{Name: "api.example.com", Type: "A", SetIdentifier: "api-secondary", Failover: "SECONDARY", TTL: i64(45), Values: []string{"198.18.1.2"}})
	state := filepath.Join(t.TempDir(), "state.json")
	a := []netip.Addr{netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.1.2")}
	health := dns.Health{a[0]: false, a[1]: true}
	run := func(p *Provider) {
		t.Helper()
		mem, err := dns.LoadMemory(state)
		if err != nil && !errors.Is(err, dns.ErrNoState) {
			t.Fatal(err)
		}
		r := dns.NewReconciler(dns.ReconcilerConfig{Provider: p, Memory: mem, Health: func() dns.Health { return health },
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now})
		r.SetGroups([]dns.Group{{Zone: zone, Hostnames: []string{"api.example.com"}, Addrs: a}}, time.Minute)
		if rep := r.Pass(context.Background()); rep.Err != nil {
			t.Fatal(rep.Err)
		}
	}
	run(l.p)
	if got := find(l.emu.Sets(zone), "api.example.com", "A"); len(got) != 1 || got[0].SetIdentifier != "api-secondary" {
		t.Fatalf("after the removal api has %+v, want only the secondary", got)
	}
	health[a[0]] = true
	run(l.provider(t, labOpts{names: []string{"api.example.com"}, rate: -1})) // a new process
	got := find(l.emu.Sets(zone), "api.example.com", "A")
	if len(got) != 2 || got[0].SetIdentifier != "api-primary" || got[0].Failover != "PRIMARY" || got[0].HealthCheckID != primary.HealthCheckID || *got[0].TTL != 45 ||
		!slices.Equal(got[0].Values, primary.Values) || !slices.Equal(got[1].Values, []string{"198.18.1.2"}) {
		t.Fatalf("after a restore by another process api has %+v, want the PRIMARY set back with .1 (and the SECONDARY with .2 only)", got)
	}
}

// TestReview_ValueInTwoSets: an address in two weighted sets of one name
// is removed from both; its restore must put it back into both sets it
// left (invariant 4), not into one of them.
func TestReview_ValueInTwoSets(t *testing.T) {
	l := newLab(t, labOpts{})
	l.emu.Seed(zone, set("www.example.com", "A", "blue", i64(10), 60, "198.18.0.1", "198.18.0.2"))
	l.emu.Seed(zone, set("www.example.com", "A", "green", i64(90), 60, "198.18.0.1", "198.18.0.3"))
	if err := l.pass(t, l.p, nil, only("198.18.0.1")); err != nil {
		t.Fatal(err)
	}
	for _, s := range find(l.emu.Sets(zone), "www.example.com", "A") {
		if slices.Contains(s.Values, "198.18.0.1") {
			t.Fatalf("after the removal, set %s still holds .1: %v", s.SetIdentifier, s.Values)
		}
	}
	if err := l.pass(t, l.p, add("www.example.com", "198.18.0.1"), nil); err != nil {
		t.Fatal(err)
	}
	for _, s := range find(l.emu.Sets(zone), "www.example.com", "A") {
		if !slices.Contains(s.Values, "198.18.0.1") {
			t.Errorf("after the restore, set %s (weight %d) lacks .1: %v", s.SetIdentifier, *s.Weight, s.Values)
		}
	}
}

// TestReview_LostAnswer: the batch that empties a failover PRIMARY set
// commits, but its answer is lost. The same write retried as it was (the
// same fence, the same listing) is refused as stale and changes nothing;
// the next pass lists again and has nothing to do; the restore later puts
// the address back into the PRIMARY set it left, with its routing fields.
func TestReview_LostAnswer(t *testing.T) {
	l := newLab(t, labOpts{})
	primary := r53emu.RRSet{Name: "api.example.com", Type: "A", SetIdentifier: "api-primary", Failover: "PRIMARY", HealthCheckID: "abcdef11-2222-3333-4444-555555fedcba", TTL: i64(45), Values: []string{"198.18.1.1"}}
	l.emu.Seed(zone, primary)
	l.emu.Seed(zone, r53emu.RRSet{Name: "api.example.com", Type: "A", SetIdentifier: "api-secondary", Failover: "SECONDARY", TTL: i64(45), Values: []string{"198.18.1.2"}})
	ctx := context.Background()
	f, err := l.p.ReadFence(ctx, zone)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := l.p.Records(ctx, zone, []string{"A"})
	if err != nil {
		t.Fatal(err)
	}
	l.emu.Inject(r53emu.Fault{Method: "POST", Count: 1, LoseAnswer: true})
	stamp := dns.FenceStamp{Deployment: "test", Writer: "a", At: time.Now()}
	if _, err := l.p.ApplyFenced(ctx, zone, f, stamp, nil, only("198.18.1.1")(recs)); err == nil || dns.Unsent(err) {
		t.Fatalf("lost answer: %v, want a transient error that may have been applied", err)
	}
	if got := find(l.emu.Sets(zone), "api.example.com", "A"); len(got) != 1 || got[0].SetIdentifier != "api-secondary" {
		t.Fatalf("the batch did not commit: %+v", got)
	}
	v := l.emu.Version(zone)
	_, err = l.p.ApplyFenced(ctx, zone, f, stamp, nil, only("198.18.1.1")(recs))
	var moved *dns.FenceMovedError
	if !errors.As(err, &moved) || l.emu.Version(zone) != v {
		t.Fatalf("the write retried as it was: %v (zone version %d -> %d), want a FenceMovedError and no change", err, v, l.emu.Version(zone))
	}
	if err := l.pass(t, l.p, nil, only("198.18.1.1")); err != nil {
		t.Fatal(err)
	}
	if err := l.pass(t, l.p, add("api.example.com", "198.18.1.1"), nil); err != nil {
		t.Fatal(err)
	}
	got := find(l.emu.Sets(zone), "api.example.com", "A")
	if len(got) != 2 || got[0].SetIdentifier != "api-primary" || got[0].Failover != "PRIMARY" || got[0].HealthCheckID != primary.HealthCheckID || !slices.Equal(got[0].Values, primary.Values) {
		t.Fatalf("after the restore api has %+v, want the PRIMARY set back exactly as it was", got)
	}
}
