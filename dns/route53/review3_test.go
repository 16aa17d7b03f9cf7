package route53

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/r53emu"
)

// TestReview_AliasAtAManagedName: a managed name whose only A set is an
// alias (to CloudFront) has none of the group's addresses, so the core
// plans to create them; Route 53 cannot hold a second A set there. That
// create must not hold back the zone's other changes: the dead address of
// www is removed in the pass, and the alias set stays exactly as it is.
func TestReview_AliasAtAManagedName(t *testing.T) {
	for _, weighted := range []bool{false, true} {
		l := newLab(t, labOpts{names: []string{"www.example.com", "alias.example.com"}, weighted: weighted, rate: -1})
		seedMigrated(l.emu)
		before := find(l.emu.Sets(zone), "alias.example.com", "A")
		var addrs []netip.Addr
		for _, s := range []string{"198.18.0.1", "198.18.0.2", "198.18.0.3"} {
			addrs = append(addrs, netip.MustParseAddr(s))
		}
		health := dns.Health{addrs[0]: false, addrs[1]: true, addrs[2]: true}
		r := dns.NewReconciler(dns.ReconcilerConfig{Provider: l.p, Health: func() dns.Health { return health },
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now})
		r.SetGroups([]dns.Group{{Zone: zone, Hostnames: []string{"www.example.com", "alias.example.com"}, Addrs: addrs, TTL: 60}}, time.Minute)
		rep := r.Pass(context.Background())
		www := find(l.emu.Sets(zone), "www.example.com", "A")
		if len(www) != 1 || slices.Contains(www[0].Values, "198.18.0.1") {
			t.Errorf("weighted=%v: www is %+v after the pass (err %v), want .1 removed", weighted, www, rep.Err)
		}
		if after := find(l.emu.Sets(zone), "alias.example.com", "A"); len(after) != 1 || after[0].AliasTarget == nil || after[0].AliasTarget.DNSName != before[0].AliasTarget.DNSName {
			t.Errorf("weighted=%v: alias.example.com is %+v, want the alias set as it was", weighted, after)
		}
	}
}

// TestReview_NameForms: a wildcard managed name (Route 53 lists it as
// \052), and a name configured in upper case with a trailing dot, are
// listed, emptied of a dead address and restored like any other, in the
// per-name listing of a big zone too.
func TestReview_NameForms(t *testing.T) {
	for _, big := range []bool{false, true} {
		l := newLab(t, labOpts{names: []string{"*.example.com", "WWW.Example.COM."}, rate: -1})
		if big {
			for i := range 700 {
				l.emu.Seed(zone, set(fmt.Sprintf("filler%03d.example.com", i), "A", "", nil, 60, "198.18.5.1"))
			}
			if _, err := l.p.NameServers(context.Background(), zone); err != nil {
				t.Fatal(err)
			}
		}
		l.emu.Seed(zone, set(`\052.example.com`, "A", "", nil, 60, "198.18.0.1", "198.18.0.2"))
		l.emu.Seed(zone, set("www.example.com", "A", "", nil, 60, "198.18.0.1", "198.18.0.2"))
		if err := l.pass(t, l.p, nil, only("198.18.0.1")); err != nil {
			t.Fatalf("big=%v: removal: %v", big, err)
		}
		for _, n := range []string{`\052.example.com`, "www.example.com"} {
			if got := find(l.emu.Sets(zone), n, "A"); len(got) != 1 || !slices.Equal(got[0].Values, []string{"198.18.0.2"}) {
				t.Fatalf("big=%v: after the removal %s is %+v", big, n, got)
			}
		}
		if err := l.pass(t, l.p, func([]dns.Record) []dns.Record {
			return []dns.Record{{Name: "*.example.com", Type: "A", Content: "198.18.0.1"}, {Name: "www.example.com", Type: "A", Content: "198.18.0.1"}}
		}, nil); err != nil {
			t.Fatalf("big=%v: restore: %v", big, err)
		}
		for _, n := range []string{`\052.example.com`, "www.example.com"} {
			if got := find(l.emu.Sets(zone), n, "A"); len(got) != 1 || len(got[0].Values) != 2 {
				t.Fatalf("big=%v: after the restore %s is %+v", big, n, got)
			}
		}
	}
}

// TestReview_PageBoundaryInsideAName: with 2 sets a page, the pages'
// boundaries fall between the weighted sets of one name (5 A sets and an
// AAAA set at www), in the whole-zone listing and in the per-name one: every
// set is listed, and a removal from the last one lands.
func TestReview_PageBoundaryInsideAName(t *testing.T) {
	for _, big := range []bool{false, true} {
		l := newLab(t, labOpts{names: []string{"www.example.com", "api.example.com"}, rate: -1})
		if big {
			for i := range 700 {
				l.emu.Seed(zone, set(fmt.Sprintf("filler%03d.example.com", i), "A", "", nil, 60, "198.18.5.1"))
			}
			if _, err := l.p.NameServers(context.Background(), zone); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 5 {
			l.emu.Seed(zone, set("www.example.com", "A", fmt.Sprintf("w%d", i), i64(int64(i)), 60, fmt.Sprintf("198.18.0.%d", i+1), "198.18.0.99"))
		}
		l.emu.Seed(zone, set("www.example.com", "AAAA", "", nil, 60, "2001:db8::1"))
		l.emu.Seed(zone, set("api.example.com", "A", "", nil, 60, "198.18.1.1"))
		l.emu.SetMaxItems(2)
		recs, err := l.p.Records(context.Background(), zone, []string{"A", "AAAA"})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 12 {
			t.Fatalf("big=%v: %d records, want 12 (5 sets of 2, an AAAA, api's)", big, len(recs))
		}
		if err := l.pass(t, l.p, nil, only("198.18.0.5")); err != nil {
			t.Fatalf("big=%v: %v", big, err)
		}
		for _, s := range find(l.emu.Sets(zone), "www.example.com", "A") {
			if slices.Contains(s.Values, "198.18.0.5") {
				t.Fatalf("big=%v: set %s still holds .5", big, s.SetIdentifier)
			}
		}
	}
}

// TestReview_FenceEditedByHand: a value added to the fence TXT set by
// hand between the fence read and the write makes the write refused as
// stale (nothing written); the next pass writes, keeping the hand value
// and one stamp.
func TestReview_FenceEditedByHand(t *testing.T) {
	l := newLab(t, labOpts{rate: -1})
	seedMigrated(l.emu)
	ctx := context.Background()
	if err := l.pass(t, l.p, nil, only("198.18.0.1")); err != nil {
		t.Fatal(err)
	}
	fence := func() []string {
		f := find(l.emu.Sets(zone), "_goavail.example.com", "TXT")
		if len(f) != 1 {
			return nil
		}
		return f[0].Values
	}
	stale := func(edit func()) {
		t.Helper()
		f, err := l.p.ReadFence(ctx, zone)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := l.p.Records(ctx, zone, []string{"A"})
		if err != nil {
			t.Fatal(err)
		}
		edit()
		v := l.emu.Version(zone)
		_, err = l.p.ApplyFenced(ctx, zone, f, dns.FenceStamp{Deployment: "test", Writer: "a", At: time.Now()}, nil, only("198.18.0.2")(recs))
		var moved *dns.FenceMovedError
		if !errors.As(err, &moved) || l.emu.Version(zone) != v {
			t.Fatalf("write after a hand edit of the fence: %v, want a FenceMovedError and no change", err)
		}
	}
	stale(func() {
		l.emu.Seed(zone, set("_goavail.example.com", "TXT", "", nil, 60, append(fence(), `"hand"`)...))
	})
	if err := l.pass(t, l.p, nil, only("198.18.0.2")); err != nil {
		t.Fatal(err)
	}
	if got := fence(); len(got) != 3 || !slices.Contains(got, `"hand"`) {
		t.Fatalf("fence after the next write: %v, want the genesis, the hand value and one stamp", got)
	}
}

// TestReview_SameStampTwice: two writes of one pass stamped alike (a
// clock that did not move between them: a frozen test clock, a coarse
// clock source) must both carry the fence: a hand edit of the fence set
// between them makes the second refused as stale.
func TestReview_SameStampTwice(t *testing.T) {
	l := newLab(t, labOpts{rate: -1})
	seedMigrated(l.emu)
	ctx := context.Background()
	f, err := l.p.ReadFence(ctx, zone)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := l.p.Records(ctx, zone, []string{"A"})
	if err != nil {
		t.Fatal(err)
	}
	stamp := dns.FenceStamp{Deployment: "test", Writer: "a", At: time.Unix(1_700_000_000, 0)}
	f, err = l.p.ApplyFenced(ctx, zone, f, stamp, nil, only("198.18.0.1")(recs))
	if err != nil {
		t.Fatal(err)
	}
	fs := find(l.emu.Sets(zone), "_goavail.example.com", "TXT")
	l.emu.Seed(zone, set("_goavail.example.com", "TXT", "", nil, 60, append(fs[0].Values, `"racer"`)...))
	v := l.emu.Version(zone)
	_, err = l.p.ApplyFenced(ctx, zone, f, stamp, nil, only("198.18.0.2")(recs))
	var moved *dns.FenceMovedError
	if !errors.As(err, &moved) || l.emu.Version(zone) != v {
		t.Fatalf("second write with the same stamp after the fence moved: %v (version %d -> %d), want a FenceMovedError and no change", err, v, l.emu.Version(zone))
	}
}

// TestReview_PrivateAndPublicZone: the account has a private and a public
// hosted zone of the zone's name (listed by id, in either order): goavail
// writes the public one, and never the private one.
func TestReview_PrivateAndPublicZone(t *testing.T) {
	emu := r53emu.New()
	t.Cleanup(emu.Close)
	private := emu.AddPrivateZone(zone)
	public := emu.AddZone(zone)
	l := &lab{emu: emu, count: map[string]int{}}
	l.p = l.provider(t, labOpts{rate: -1})
	seedMigrated(emu)
	id, err := l.p.zoneID(context.Background(), zone)
	if err != nil || id != public {
		t.Fatalf("zone id %q, %v; want the public zone %s (private %s)", id, err, public, private)
	}
	if err := l.pass(t, l.p, nil, only("198.18.0.1")); err != nil {
		t.Fatal(err)
	}
	if got := find(emu.Sets(zone), "www.example.com", "A"); len(got) != 1 || slices.Contains(got[0].Values, "198.18.0.1") {
		t.Fatalf("public www: %+v", got)
	}
}
