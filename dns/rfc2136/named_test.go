package rfc2136

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/namedlab"
)

// The contract, against a real named (internal/namedlab): each test starts
// its own.

const zone = "example.com"

var seed = []string{
	"www 300 IN A 192.0.2.1",
	"www 300 IN A 192.0.2.2",
	"www 300 IN TXT \"v=spf1 -all\"",
	"mail 300 IN A 192.0.2.1",
}

func newProvider(t *testing.T, s *namedlab.Server, secret string) *Provider {
	t.Helper()
	p, err := New(Options{Server: s.Addr, KeyName: namedlab.KeyName, Secret: secret, FenceLabel: "_goavail", Timeout: 5 * time.Second,
		Names: func(string) []string { return []string{"www.example.com"} }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func sorted(s []string) []string { slices.Sort(s); return s }

// TestNamed_ValueDependentPrerequisiteComparesTheWholeRRset checks the
// server semantics the fence rests on (RFC 2136 §3.2.5): a prerequisite
// naming one of two records is refused with NXRRSET; naming both passes.
func TestNamed_ValueDependentPrerequisiteComparesTheWholeRRset(t *testing.T) {
	s := namedlab.Start(t, zone, seed...)
	one := []mdns.RR{namedlab.RR(t, "www.example.com. 0 IN A 192.0.2.1")}
	add := []mdns.RR{namedlab.RR(t, "www.example.com. 300 IN A 192.0.2.9")}
	if rc := s.Update(t, func(m *mdns.Msg) { m.Used(one); m.Insert(add) }); rc != mdns.RcodeNXRrset {
		t.Fatalf("prerequisite naming one of two records: rcode %s, want NXRRSET", mdns.RcodeToString[rc])
	}
	if got := sorted(s.Lookup(t, "www.example.com", "A")); !slices.Equal(got, []string{"192.0.2.1", "192.0.2.2"}) {
		t.Fatalf("a refused update changed the zone: %v", got)
	}
	both := append(one, namedlab.RR(t, "www.example.com. 0 IN A 192.0.2.2"))
	if rc := s.Update(t, func(m *mdns.Msg) { m.Used(both); m.Insert(add) }); rc != mdns.RcodeSuccess {
		t.Fatalf("prerequisite naming both records: rcode %s, want NOERROR", mdns.RcodeToString[rc])
	}
	if got := sorted(s.Lookup(t, "www.example.com", "A")); !slices.Equal(got, []string{"192.0.2.1", "192.0.2.2", "192.0.2.9"}) {
		t.Fatalf("after the update: %v", got)
	}
}

// TestProvider_RemoveRestore removes one address and restores it through
// fenced writes; the fence record gets its genesis and one stamp that each
// write replaces; records at other names and types are untouched.
func TestProvider_RemoveRestore(t *testing.T) {
	s := namedlab.Start(t, zone, seed...)
	p := newProvider(t, s, s.Secret)
	ctx := context.Background()
	f, err := p.ReadFence(ctx, zone)
	if err != nil || f.Genesis.ID != "" || len(f.Stamps) != 0 {
		t.Fatalf("fence of a fresh zone = %+v, %v; want none", f, err)
	}
	recs, err := p.Records(ctx, zone, []string{"A", "AAAA"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("listed %v, want www's two A records", recs)
	}
	stamp := dns.FenceStamp{Deployment: "d1", Writer: "n1", At: time.Unix(1, 0)}
	var gone dns.Record
	for _, r := range recs {
		if r.Content == "192.0.2.1" {
			gone = r
		}
	}
	f, err = p.ApplyFenced(ctx, zone, f, stamp, nil, []dns.Record{gone})
	if err != nil {
		t.Fatalf("remove: %v", err)
	}
	if got := s.Lookup(t, "www.example.com", "A"); !slices.Equal(got, []string{"192.0.2.2"}) {
		t.Fatalf("after the removal www A = %v", got)
	}
	stamp.At = time.Unix(2, 0)
	f, err = p.ApplyFenced(ctx, zone, f, stamp, []dns.Record{{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 120}}, nil)
	if err != nil {
		t.Fatalf("restore (the second write, chained on the fence the first left): %v", err)
	}
	if got := sorted(s.Lookup(t, "www.example.com", "A")); !slices.Equal(got, []string{"192.0.2.1", "192.0.2.2"}) {
		t.Fatalf("after the restore www A = %v", got)
	}
	fence := sorted(s.Lookup(t, "_goavail.example.com", "TXT"))
	if len(fence) != 2 || fence[1] != dns.GenesisContent || fence[0] != stamp.Content() {
		t.Fatalf("fence record = %q, want the genesis and the last stamp", fence)
	}
	if f.Genesis.Content != dns.GenesisContent || len(f.Stamps) != 1 || f.Stamps[0].Content != stamp.Content() {
		t.Fatalf("fence returned = %+v", f)
	}
	if got := s.Lookup(t, "www.example.com", "TXT"); !slices.Equal(got, []string{"v=spf1 -all"}) {
		t.Errorf("unmanaged TXT at www = %v", got)
	}
	if got := s.Lookup(t, "mail.example.com", "A"); !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Errorf("unmanaged mail A = %v", got)
	}
	// A fresh reader sees the same fence.
	f2, err := newProvider(t, s, s.Secret).ReadFence(ctx, zone)
	if err != nil || f2.ID() != f.ID() || f2.Genesis.ID != f.Genesis.ID {
		t.Fatalf("fence read again = %+v, %v; want %+v", f2, err, f)
	}
}

// TestProvider_StaleWriteRefused: a write planned before the zone moved is
// refused whole, as a FenceMovedError, whether the RRset it changes moved
// (a hand edit) or the fence did (another agent's write).
func TestProvider_StaleWriteRefused(t *testing.T) {
	ctx := context.Background()
	del := dns.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1"}
	t.Run("rrset edited by hand", func(t *testing.T) {
		s := namedlab.Start(t, zone, seed...)
		p := newProvider(t, s, s.Secret)
		f, _ := p.ReadFence(ctx, zone)
		if _, err := p.Records(ctx, zone, []string{"A"}); err != nil {
			t.Fatal(err)
		}
		s.Update(t, func(m *mdns.Msg) { m.Insert([]mdns.RR{namedlab.RR(t, "www.example.com. 300 IN A 192.0.2.3")}) })
		_, err := p.ApplyFenced(ctx, zone, f, dns.FenceStamp{Deployment: "d"}, nil, []dns.Record{del})
		var moved *dns.FenceMovedError
		if !errors.As(err, &moved) || !strings.Contains(err.Error(), "NXRRSET") {
			t.Fatalf("err = %v, want a FenceMovedError for NXRRSET", err)
		}
		if got := sorted(s.Lookup(t, "www.example.com", "A")); !slices.Equal(got, []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}) {
			t.Fatalf("a refused write changed the zone: %v", got)
		}
		if got := s.Lookup(t, "_goavail.example.com", "TXT"); len(got) != 0 {
			t.Fatalf("a refused write left a fence: %v", got)
		}
	})
	t.Run("fence moved by another writer", func(t *testing.T) {
		s := namedlab.Start(t, zone, seed...)
		a, b := newProvider(t, s, s.Secret), newProvider(t, s, s.Secret)
		for _, p := range []*Provider{a, b} { // both read before either writes
			if _, err := p.Records(ctx, zone, []string{"A"}); err != nil {
				t.Fatal(err)
			}
		}
		fa, _ := a.ReadFence(ctx, zone)
		fb, _ := b.ReadFence(ctx, zone)
		fa, err := a.ApplyFenced(ctx, zone, fa, dns.FenceStamp{Deployment: "d", Writer: "a"}, nil, nil)
		if err != nil {
			t.Fatalf("a's first write: %v", err)
		}
		// b's write touches only the fence and the mail name... it still
		// names the fence as b read it: none (YXRRSET now).
		b.o.Names = func(string) []string { return []string{"www.example.com"} }
		_, err = b.ApplyFenced(ctx, zone, fb, dns.FenceStamp{Deployment: "d", Writer: "b"}, nil, []dns.Record{del})
		var moved *dns.FenceMovedError
		if !errors.As(err, &moved) || !strings.Contains(err.Error(), "YXRRSET") {
			t.Fatalf("err = %v, want a FenceMovedError for YXRRSET", err)
		}
		if got := sorted(s.Lookup(t, "www.example.com", "A")); !slices.Equal(got, []string{"192.0.2.1", "192.0.2.2"}) {
			t.Fatalf("a refused write changed the zone: %v", got)
		}
		// a, chained on its own fence, writes again; b, after reading again, too.
		if _, err := a.ApplyFenced(ctx, zone, fa, dns.FenceStamp{Deployment: "d", Writer: "a", At: time.Unix(5, 0)}, nil, nil); err != nil {
			t.Fatalf("a's second write: %v", err)
		}
		fb, _ = b.ReadFence(ctx, zone)
		b.Records(ctx, zone, []string{"A"})
		if _, err := b.ApplyFenced(ctx, zone, fb, dns.FenceStamp{Deployment: "d", Writer: "b", At: time.Unix(6, 0)}, nil, []dns.Record{del}); err != nil {
			t.Fatalf("b's write after reading again: %v", err)
		}
		if got := s.Lookup(t, "www.example.com", "A"); !slices.Equal(got, []string{"192.0.2.2"}) {
			t.Fatalf("www A = %v", got)
		}
	})
}

// TestProvider_WrongKey: a secret the server does not know is a
// PermanentError naming the key, on the signed reads and on a write, and
// nothing is written.
func TestProvider_WrongKey(t *testing.T) {
	s := namedlab.Start(t, zone, seed...)
	bad := newProvider(t, s, "d3JvbmcgLSB3cm9uZyAtIHdyb25nIC0gd3JvbmcgLSA=")
	ctx := context.Background()
	wantRefused := func(what string, err error) {
		t.Helper()
		var perm *dns.PermanentError
		if !errors.As(err, &perm) || !strings.Contains(err.Error(), "TSIG key goavail.") || !strings.Contains(err.Error(), "BADSIG") {
			t.Fatalf("%s: err = %v, want a PermanentError naming TSIG key goavail. and BADSIG", what, err)
		}
		t.Logf("%s: %v", what, err)
	}
	_, err := bad.ReadFence(ctx, zone)
	wantRefused("read the fence", err)
	_, err = bad.Records(ctx, zone, []string{"A"})
	wantRefused("list", err)

	// A write planned on a good listing, sent with the wrong key.
	good := newProvider(t, s, s.Secret)
	f, err := good.ReadFence(ctx, zone)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := good.Records(ctx, zone, []string{"A"}); err != nil {
		t.Fatal(err)
	}
	bad.read = good.read
	_, err = bad.ApplyFenced(ctx, zone, f, dns.FenceStamp{Deployment: "d"}, nil, []dns.Record{{Name: "www.example.com", Type: "A", Content: "192.0.2.1"}})
	wantRefused("write", err)
	if got := sorted(s.Lookup(t, "www.example.com", "A")); !slices.Equal(got, []string{"192.0.2.1", "192.0.2.2"}) {
		t.Fatalf("a write with a wrong key changed the zone: %v", got)
	}
	if got := s.Lookup(t, "_goavail.example.com", "TXT"); len(got) != 0 {
		t.Fatalf("a write with a wrong key left a fence: %v", got)
	}
}

// TestProvider_UnknownKeyOrNoGrant: a key name the server does not know
// (BADKEY), and a key the zone's update-policy does not grant (REFUSED),
// are PermanentErrors naming the key, with what to check.
func TestProvider_UnknownKeyOrNoGrant(t *testing.T) {
	ctx := context.Background()
	s := namedlab.StartPolicy(t, zone, "grant goavail. name other.example.com. A;", seed...)
	stranger, err := New(Options{Server: s.Addr, KeyName: "stranger.", Secret: s.Secret, FenceLabel: "_goavail", Names: func(string) []string { return []string{"www.example.com"} }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stranger.ReadFence(ctx, zone)
	var perm *dns.PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "TSIG key stranger.") || !strings.Contains(err.Error(), "BADKEY") {
		t.Fatalf("unknown key: err = %v, want a PermanentError naming TSIG key stranger. and BADKEY", err)
	}
	p := newProvider(t, s, s.Secret)
	f, err := p.ReadFence(ctx, zone)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Records(ctx, zone, []string{"A"}); err != nil {
		t.Fatal(err)
	}
	_, err = p.ApplyFenced(ctx, zone, f, dns.FenceStamp{Deployment: "d"}, nil, []dns.Record{{Name: "www.example.com", Type: "A", Content: "192.0.2.1"}})
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "REFUSED") || !strings.Contains(err.Error(), "update-policy { grant goavail. zonesub ANY; }") {
		t.Fatalf("no grant: err = %v, want a PermanentError for REFUSED naming the update-policy", err)
	}
	if got := sorted(s.Lookup(t, "www.example.com", "A")); !slices.Equal(got, []string{"192.0.2.1", "192.0.2.2"}) {
		t.Fatalf("a refused write changed the zone: %v", got)
	}
}

// TestProvider_Algorithms: hmac-sha512 and hmac-sha1 sign reads and
// writes as hmac-sha256 does, against a key of that algorithm; a key
// configured with another algorithm than the server's is refused.
func TestProvider_Algorithms(t *testing.T) {
	ctx := context.Background()
	for _, alg := range []string{"hmac-sha512", "hmac-sha1"} {
		t.Run(alg, func(t *testing.T) {
			s := namedlab.Run(t, namedlab.Options{Zone: zone, Records: seed, Algorithm: alg})
			for _, use := range []string{alg, "hmac-sha256"} {
				p, err := New(Options{Server: s.Addr, KeyName: namedlab.KeyName, Secret: s.Secret, Algorithm: use, FenceLabel: "_goavail",
					Names: func(string) []string { return []string{"www.example.com"} }})
				if err != nil {
					t.Fatal(err)
				}
				f, err := p.ReadFence(ctx, zone)
				if use != alg {
					var perm *dns.PermanentError
					if !errors.As(err, &perm) || !strings.Contains(err.Error(), "TSIG key goavail.") {
						t.Fatalf("%s against a %s key: err = %v, want a PermanentError naming the key", use, alg, err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if _, err := p.Records(ctx, zone, []string{"A"}); err != nil {
					t.Fatal(err)
				}
				if _, err := p.ApplyFenced(ctx, zone, f, dns.FenceStamp{Deployment: "d"}, nil, []dns.Record{{Name: "www.example.com", Type: "A", Content: "192.0.2.1"}}); err != nil {
					t.Fatalf("write signed with %s: %v", alg, err)
				}
				if got := s.Lookup(t, "www.example.com", "A"); !slices.Equal(got, []string{"192.0.2.2"}) {
					t.Fatalf("www A = %v", got)
				}
			}
		})
	}
}

// TestProvider_EmptyRRsetMustStillBeEmpty: a create at a name and type
// with no records yet is conditional on "RRset does not exist": it lands
// once, and a second writer that read the name empty too is refused.
func TestProvider_EmptyRRsetMustStillBeEmpty(t *testing.T) {
	ctx := context.Background()
	s := namedlab.Start(t, zone, seed...)
	names := func(string) []string { return []string{"new.example.com"} }
	a, b := newProvider(t, s, s.Secret), newProvider(t, s, s.Secret)
	a.o.Names, b.o.Names = names, names
	for _, p := range []*Provider{a, b} {
		if recs, err := p.Records(ctx, zone, []string{"AAAA"}); err != nil || len(recs) != 0 {
			t.Fatalf("new.example.com AAAA = %v, %v; want none", recs, err)
		}
	}
	create := []dns.Record{{Name: "new.example.com", Type: "AAAA", Content: "2001:db8::1", TTL: 60}}
	if err := a.Apply(ctx, zone, create, nil); err != nil {
		t.Fatalf("first create: %v", err)
	}
	err := b.Apply(ctx, zone, []dns.Record{{Name: "new.example.com", Type: "AAAA", Content: "2001:db8::2", TTL: 60}}, nil)
	var moved *dns.FenceMovedError
	if !errors.As(err, &moved) || !strings.Contains(err.Error(), "YXRRSET") {
		t.Fatalf("second create on a stale empty read: err = %v, want a FenceMovedError for YXRRSET", err)
	}
	if got := s.Lookup(t, "new.example.com", "AAAA"); !slices.Equal(got, []string{"2001:db8::1"}) {
		t.Fatalf("new.example.com AAAA = %v", got)
	}
}

// raceProvider is the provider with a hook run between the listing and
// the write: someone else edits the zone meanwhile.
type raceProvider struct {
	*Provider
	afterList func()
}

func (p *raceProvider) Records(ctx context.Context, zone string, types []string) ([]dns.Record, error) {
	recs, err := p.Provider.Records(ctx, zone, types)
	if p.afterList != nil {
		p.afterList()
		p.afterList = nil
	}
	return recs, err
}

// TestReconciler_StalePlanRefusedAndPlannedAgain: through the core, a hand
// edit between the listing and the write makes named refuse the write;
// the pass lists again and plans again in the same pass: the down address
// goes, and the record added meanwhile is kept.
func TestReconciler_StalePlanRefusedAndPlannedAgain(t *testing.T) {
	s := namedlab.Start(t, zone, seed...)
	p := &raceProvider{Provider: newProvider(t, s, s.Secret)}
	p.afterList = func() {
		s.Update(t, func(m *mdns.Msg) { m.Insert([]mdns.RR{namedlab.RR(t, "www.example.com. 300 IN A 198.51.100.7")}) })
	}
	ip1, ip2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	var logs bytes.Buffer
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: p, Health: func() dns.Health { return dns.Health{ip1: false, ip2: true} },
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	r.SetGroups([]dns.Group{{Zone: zone, Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2}, TTL: 60}}, time.Minute)
	rep := r.Pass(context.Background())
	if rep.Err != nil {
		t.Fatalf("pass failed: %v\n%s", rep.Err, logs.String())
	}
	if len(rep.Plans) != 1 || rep.Plans[0].FenceRefused != 1 {
		t.Fatalf("plans %+v: want one zone whose write was refused once", rep.Plans)
	}
	if got := sorted(s.Lookup(t, "www.example.com", "A")); !slices.Equal(got, []string{"192.0.2.2", "198.51.100.7"}) {
		t.Fatalf("www A = %v, want the down address gone and the hand-added one kept\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), "NXRRSET") {
		t.Errorf("the refusal is not logged with the server's answer:\n%s", logs.String())
	}
}
