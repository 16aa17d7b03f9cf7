package route53

import (
	"context"
	"errors"
	"time"

	"github.com/goavail/goavail/dns"
	"os"
	"slices"
	"testing"

	"github.com/goavail/goavail/internal/r53emu"
)

// knownBreak skips a test that shows a break of an invariant not fixed
// yet, unless GOAVAIL_REVIEW_KNOWN_BREAKS is set (then it runs, and fails).
func knownBreak(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("GOAVAIL_REVIEW_KNOWN_BREAKS") == "" {
		t.Skip("known break, not fixed (set GOAVAIL_REVIEW_KNOWN_BREAKS=1 to run): " + why)
	}
}

// TestReview_RestoreAfterRestart: a failover PRIMARY set emptied by one
// goavail process is deleted; the restore is made by another process (a
// restart, or another agent taking over as writer), which never saw the
// set. Invariant 4 wants the address back in the PRIMARY set it left.
func TestReview_RestoreAfterRestart(t *testing.T) {
	knownBreak(t, "the emptied set's routing fields live only in the memory of the process that emptied it (Provider.gone/was)")
	l := newLab(t, labOpts{})
	primary := r53emu.RRSet{Name: "api.example.com", Type: "A", SetIdentifier: "api-primary", Failover: "PRIMARY", TTL: i64(45), Values: []string{"198.18.1.1"}}
	l.emu.Seed(zone, primary)
	l.emu.Seed(zone, r53emu.RRSet{Name: "api.example.com", Type: "A", SetIdentifier: "api-secondary", Failover: "SECONDARY", TTL: i64(45), Values: []string{"198.18.1.2"}})
	if err := l.pass(t, l.p, nil, only("198.18.1.1")); err != nil {
		t.Fatal(err)
	}
	other := l.provider(t, labOpts{})
	if err := l.pass(t, other, add("api.example.com", "198.18.1.1"), nil); err != nil {
		t.Fatal(err)
	}
	got := find(l.emu.Sets(zone), "api.example.com", "A")
	if len(got) != 2 || got[0].SetIdentifier != "api-primary" || got[0].Failover != "PRIMARY" || !slices.Equal(got[0].Values, primary.Values) {
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
