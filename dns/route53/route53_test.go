package route53

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/r53emu"
)

const zone = "example.com"

// lab is a Route 53 emulator with one zone and a provider talking to it
// through the real SDK.
type lab struct {
	emu   *r53emu.Server
	p     *Provider
	mu    sync.Mutex
	count map[string]int
}

type labOpts struct {
	names    []string
	weighted bool
	akid     string
	secret   string
	poll     time.Duration
	rate     int // Options.Rate
}

func newLab(t *testing.T, o labOpts) *lab {
	t.Helper()
	emu := r53emu.New()
	t.Cleanup(emu.Close)
	emu.AddZone(zone)
	l := &lab{emu: emu, count: map[string]int{}}
	l.p = l.provider(t, o)
	return l
}

func (l *lab) provider(t *testing.T, o labOpts) *Provider {
	t.Helper()
	if o.akid == "" {
		o.akid, o.secret = l.emu.AccessKeyID, l.emu.SecretAccessKey
	}
	if o.names == nil {
		o.names = []string{"www.example.com", "api.example.com", "new.example.com", "alias.example.com"}
	}
	if o.poll == 0 {
		o.poll = -1
	}
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(l.emu.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: o.akid, SecretAccessKey: o.secret, Source: "test"}, nil
		})}
	p, err := New(context.Background(), Options{Names: func(string) []string { return o.names }, FenceLabel: "_goavail", AWS: &cfg, PollInterval: o.poll, Rate: o.rate,
		Weighted: func(string, string) bool { return o.weighted }, Timeout: 10 * time.Second,
		Observe: func(op string, err error, _ time.Duration) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.count[op]++
			if err != nil {
				l.count[op+" failed"]++
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func i64(n int64) *int64 { return &n }

func set(name, typ, id string, weight *int64, ttl int64, values ...string) r53emu.RRSet {
	return r53emu.RRSet{Name: name, Type: typ, SetIdentifier: id, Weight: weight, TTL: i64(ttl), Values: values}
}

// seedMigrated seeds what the original goavail's [Route53] block left: a
// weighted set per hostname (identifier = first label, weight 0), plus an
// unmanaged set and an alias set at a managed name.
func seedMigrated(emu *r53emu.Server) {
	emu.Seed(zone, set("www.example.com", "A", "www", i64(0), 120, "198.18.0.1", "198.18.0.2", "198.18.0.3"))
	emu.Seed(zone, set("other.example.com", "A", "", nil, 300, "198.18.9.9"))
	emu.Seed(zone, r53emu.RRSet{Name: "alias.example.com", Type: "A", AliasTarget: &r53emu.AliasTarget{HostedZoneID: "Z2FDTNDATAQYW2", DNSName: "d111111abcdef8.cloudfront.net."}})
}

// pass reads the fence, lists A records and applies the changes fenced,
// as the core's pass does.
func (l *lab) pass(t *testing.T, p *Provider, creates, deletes func([]dns.Record) []dns.Record) error {
	t.Helper()
	ctx := context.Background()
	f, err := p.ReadFence(ctx, zone)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := p.Records(ctx, zone, []string{"A"})
	if err != nil {
		t.Fatal(err)
	}
	var c, d []dns.Record
	if creates != nil {
		c = creates(recs)
	}
	if deletes != nil {
		d = deletes(recs)
	}
	_, err = p.ApplyFenced(ctx, zone, f, dns.FenceStamp{Deployment: "test", Writer: "a", At: time.Now()}, c, d)
	return err
}

func find(sets []r53emu.RRSet, name, typ string) []r53emu.RRSet {
	var out []r53emu.RRSet
	for _, s := range sets {
		if s.Name == name+"." && s.Type == typ {
			out = append(out, s)
		}
	}
	return out
}

func only(content string) func([]dns.Record) []dns.Record {
	return func(recs []dns.Record) []dns.Record {
		return slices.DeleteFunc(slices.Clone(recs), func(r dns.Record) bool { return r.Content != content })
	}
}

func add(name, content string) func([]dns.Record) []dns.Record {
	return func([]dns.Record) []dns.Record {
		return []dns.Record{{Name: name, Type: "A", Content: content, TTL: 300}}
	}
}

// TestWeighted_RemoveRestore: a migrated zone's weighted set loses an
// address and gets it back, staying weighted with its identifier, weight
// and TTL; the unmanaged and alias sets are untouched, and the fence set
// holds the genesis value and the latest stamp.
func TestWeighted_RemoveRestore(t *testing.T) {
	l := newLab(t, labOpts{weighted: true})
	seedMigrated(l.emu)
	before := l.emu.Sets(zone)
	recs, err := l.p.Records(context.Background(), zone, []string{"A"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("Records = %v, want the 3 values of www's set (no alias, no unmanaged)", recs)
	}
	if err := l.pass(t, l.p, nil, only("198.18.0.2")); err != nil {
		t.Fatal(err)
	}
	www := find(l.emu.Sets(zone), "www.example.com", "A")
	if len(www) != 1 || www[0].SetIdentifier != "www" || www[0].Weight == nil || *www[0].Weight != 0 || *www[0].TTL != 120 || !slices.Equal(www[0].Values, []string{"198.18.0.1", "198.18.0.3"}) {
		t.Fatalf("after the removal www is %+v, want the weighted set www (weight 0, TTL 120) with .1 and .3", www)
	}
	if err := l.pass(t, l.p, add("www.example.com", "198.18.0.2"), nil); err != nil {
		t.Fatal(err)
	}
	after := l.emu.Sets(zone)
	www = find(after, "www.example.com", "A")
	if len(www) != 1 || www[0].SetIdentifier != "www" || *www[0].Weight != 0 || *www[0].TTL != 120 || len(www[0].Values) != 3 {
		t.Fatalf("after the restore www is %+v, want the weighted set www with 3 values", www)
	}
	for _, n := range []string{"other.example.com", "alias.example.com"} {
		if !slices.EqualFunc(find(before, n, "A"), find(after, n, "A"), func(a, b r53emu.RRSet) bool {
			return a.Name == b.Name && slices.Equal(a.Values, b.Values) && (a.AliasTarget == nil) == (b.AliasTarget == nil)
		}) {
			t.Errorf("%s changed: %+v -> %+v", n, find(before, n, "A"), find(after, n, "A"))
		}
	}
	fence := find(after, "_goavail.example.com", "TXT")
	if len(fence) != 1 || len(fence[0].Values) != 2 || fence[0].Values[0] != `"`+dns.GenesisContent+`"` || !strings.Contains(fence[0].Values[1], "writer=a") {
		t.Errorf("fence set %+v, want the genesis value and one stamp", fence)
	}
}

// TestExactRestore_FailoverSet: a failover set emptied by a removal is
// deleted; the restore brings it back with its TTL, identifier, failover
// role and health check.
func TestExactRestore_FailoverSet(t *testing.T) {
	l := newLab(t, labOpts{})
	primary := r53emu.RRSet{Name: "api.example.com", Type: "A", SetIdentifier: "api-primary", Failover: "PRIMARY", HealthCheckID: "abcdef11-2222-3333-4444-555555fedcba", TTL: i64(45), Values: []string{"198.18.1.1"}}
	l.emu.Seed(zone, primary)
	l.emu.Seed(zone, r53emu.RRSet{Name: "api.example.com", Type: "A", SetIdentifier: "api-secondary", Failover: "SECONDARY", TTL: i64(45), Values: []string{"198.18.1.2"}})
	if err := l.pass(t, l.p, nil, only("198.18.1.1")); err != nil {
		t.Fatal(err)
	}
	if got := find(l.emu.Sets(zone), "api.example.com", "A"); len(got) != 1 || got[0].SetIdentifier != "api-secondary" {
		t.Fatalf("after the removal api has %+v, want only the secondary", got)
	}
	if err := l.pass(t, l.p, add("api.example.com", "198.18.1.1"), nil); err != nil {
		t.Fatal(err)
	}
	got := find(l.emu.Sets(zone), "api.example.com", "A")
	if len(got) != 2 || got[0].SetIdentifier != "api-primary" || got[0].Failover != "PRIMARY" || got[0].HealthCheckID != primary.HealthCheckID || *got[0].TTL != 45 || !slices.Equal(got[0].Values, primary.Values) {
		t.Fatalf("after the restore api has %+v, want the primary back exactly as it was", got)
	}
}

// TestNewSet_WeightedOrSimple: a name with no set gets a weighted set
// (identifier = first label, weight 0) when Weighted says so, else a
// simple one.
func TestNewSet_WeightedOrSimple(t *testing.T) {
	for _, weighted := range []bool{true, false} {
		l := newLab(t, labOpts{weighted: weighted})
		if err := l.pass(t, l.p, add("new.example.com", "198.18.2.1"), nil); err != nil {
			t.Fatal(err)
		}
		got := find(l.emu.Sets(zone), "new.example.com", "A")
		if len(got) != 1 {
			t.Fatalf("weighted=%v: new has %+v", weighted, got)
		}
		if w := got[0].SetIdentifier == "new" && got[0].Weight != nil && *got[0].Weight == 0; w != weighted || !weighted && got[0].SetIdentifier != "" {
			t.Errorf("weighted=%v: new set %+v", weighted, got[0])
		}
	}
}

// TestStalePlan_RefusedThenReplanned: a hand edit of the set after the
// listing, and a second writer's batch, each make the stale plan's batch
// refused whole (FenceMovedError, nothing written); listing again and
// planning again lands.
func TestStalePlan_RefusedThenReplanned(t *testing.T) {
	l := newLab(t, labOpts{})
	seedMigrated(l.emu)
	ctx := context.Background()
	for _, racer := range []string{"hand edit", "second writer"} {
		f, err := l.p.ReadFence(ctx, zone)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := l.p.Records(ctx, zone, []string{"A"})
		if err != nil {
			t.Fatal(err)
		}
		switch racer {
		case "hand edit":
			l.emu.Seed(zone, set("www.example.com", "A", "www", i64(0), 120, "198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.4"))
		case "second writer":
			if err := l.pass(t, l.provider(t, labOpts{}), add("www.example.com", "198.18.0.5"), nil); err != nil {
				t.Fatal(err)
			}
		}
		v := l.emu.Version(zone)
		_, err = l.p.ApplyFenced(ctx, zone, f, dns.FenceStamp{Deployment: "test", Writer: "a", At: time.Now()}, nil, only("198.18.0.1")(recs))
		var moved *dns.FenceMovedError
		if !errors.As(err, &moved) {
			t.Fatalf("%s: stale write: %v, want a FenceMovedError", racer, err)
		}
		if l.emu.Version(zone) != v {
			t.Fatalf("%s: the refused batch changed the zone", racer)
		}
		if err := l.pass(t, l.p, nil, only("198.18.0.1")); err != nil {
			t.Fatalf("%s: after listing again: %v", racer, err)
		}
		if got := find(l.emu.Sets(zone), "www.example.com", "A"); slices.Contains(got[0].Values, "198.18.0.1") {
			t.Fatalf("%s: .1 still in %v", racer, got[0].Values)
		}
		l.emu.Seed(zone, set("www.example.com", "A", "www", i64(0), 120, "198.18.0.1", "198.18.0.2", "198.18.0.3"))
	}
}

// TestFaults_Transient: Throttling, PriorRequestNotComplete and a 503 come
// back at once as transient errors (the SDK does not retry them), nothing
// written; the next attempt lands.
func TestFaults_Transient(t *testing.T) {
	for _, f := range []r53emu.Fault{{Status: 400, Code: "Throttling"}, {Status: 400, Code: "PriorRequestNotComplete"}, {Status: 503, Code: "ServiceUnavailable"}} {
		l := newLab(t, labOpts{})
		seedMigrated(l.emu)
		f.Method, f.Count = "POST", 1
		l.emu.Inject(f)
		err := l.pass(t, l.p, nil, only("198.18.0.1"))
		var perm *dns.PermanentError
		var rej *dns.RejectedError
		var moved *dns.FenceMovedError
		if err == nil || errors.As(err, &perm) || errors.As(err, &rej) || errors.As(err, &moved) {
			t.Fatalf("%s: %v, want a transient error", f.Code, err)
		}
		var ra *dns.RetryAfterError
		if (f.Code != "ServiceUnavailable") != errors.As(err, &ra) {
			t.Errorf("%s: %v: rate-limit class %v", f.Code, err, errors.As(err, &ra))
		}
		posts := 0
		for _, r := range l.emu.Requests() {
			if r.Write() {
				posts++
			}
		}
		if posts != 1 {
			t.Errorf("%s: %d change requests, want 1 (the SDK's retryer is off)", f.Code, posts)
		}
		if err := l.pass(t, l.p, nil, only("198.18.0.1")); err != nil {
			t.Fatalf("%s: retry: %v", f.Code, err)
		}
	}
}

// TestWrongCredentials: an unknown access key and a wrong secret are
// permanent errors naming the credentials.
func TestWrongCredentials(t *testing.T) {
	l := newLab(t, labOpts{})
	for _, o := range []labOpts{{akid: "AKIAWRONGWRONGWRONG1", secret: "x"}, {akid: l.emu.AccessKeyID, secret: "not-the-secret"}} {
		p := l.provider(t, o)
		_, err := p.Records(context.Background(), zone, []string{"A"})
		var perm *dns.PermanentError
		if !errors.As(err, &perm) || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
			t.Errorf("key %s: %v, want a permanent error naming the credentials", o.akid, err)
		}
		if err := p.CheckZones(context.Background(), []string{zone}); !errors.As(err, &perm) {
			t.Errorf("CheckZones with key %s: %v, want a permanent error", o.akid, err)
		}
	}
	if err := l.p.CheckZones(context.Background(), []string{"nope.example"}); err == nil || !strings.Contains(err.Error(), "no hosted zone named nope.example") {
		t.Errorf("CheckZones of a missing zone: %v", err)
	}
}

// TestPagination: with 2 sets a page, Records follows every page.
func TestPagination(t *testing.T) {
	var names []string
	l := newLab(t, labOpts{})
	for _, h := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		names = append(names, h+".example.com")
		l.emu.Seed(zone, set(h+".example.com", "A", "", nil, 60, "198.18.3.1"))
		l.emu.Seed(zone, set(h+".example.com", "TXT", "", nil, 60, `"x"`))
	}
	l.emu.SetMaxItems(2)
	p := l.provider(t, labOpts{names: names})
	recs, err := p.Records(context.Background(), zone, []string{"A"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 7 {
		t.Fatalf("%d records, want 7: %v", len(recs), recs)
	}
	if l.count["list"] != 7 { // 14 sets, 2 a page
		t.Errorf("%d list requests, want 7", l.count["list"])
	}
}

// TestInsync: a zone's changes are polled, the latest one only, until
// INSYNC, and each batch's time is observed once.
func TestInsync(t *testing.T) {
	// Unpaced, and polled every 150 ms: both passes' batches are sent
	// before the first poll, which then asks about the latest only.
	l := newLab(t, labOpts{poll: 150 * time.Millisecond, rate: -1})
	l.emu.SetPropagationDelay(400 * time.Millisecond)
	seedMigrated(l.emu)
	if err := l.pass(t, l.p, nil, only("198.18.0.1")); err != nil {
		t.Fatal(err)
	}
	if err := l.pass(t, l.p, nil, only("198.18.0.2")); err != nil {
		t.Fatal(err)
	}
	l.p.Wait()
	l.mu.Lock()
	count := maps.Clone(l.count)
	l.mu.Unlock()
	if count["insync"] != 2 || count["insync failed"] != 0 || count["change"] < 2 {
		t.Fatalf("observed %v, want 2 insync after several GetChange", count)
	}
	var asked []string
	for _, r := range l.emu.Requests() {
		if strings.Contains(r.Path, "/change/") && !slices.Contains(asked, r.Path) {
			asked = append(asked, r.Path)
		}
	}
	if len(asked) != 1 {
		t.Errorf("GetChange asked about %d changes, want only the latest: %v", len(asked), asked)
	}
	ns, err := l.p.NameServers(context.Background(), zone)
	if err != nil || len(ns) != 1 || ns[0] != l.emu.DNSAddr() {
		t.Fatalf("NameServers = %v, %v; want [%s]", ns, err, l.emu.DNSAddr())
	}
}

// TestRecords_PerNameInABigZone: when the zone's set count (known from
// GetHostedZone) means more pages than there are managed names, Records
// lists from each managed name instead of the whole zone.
func TestRecords_PerNameInABigZone(t *testing.T) {
	l := newLab(t, labOpts{})
	for i := range 700 {
		l.emu.Seed(zone, set(fmt.Sprintf("filler%03d.example.com", i), "A", "", nil, 60, "198.18.5.1"))
	}
	seedMigrated(l.emu)
	l.emu.Seed(zone, set("www.example.com", "AAAA", "www", i64(0), 120, "2001:db8::1"))
	p := l.provider(t, labOpts{names: []string{"www.example.com", "alias.example.com"}})
	all, err := p.Records(context.Background(), zone, []string{"A", "AAAA"})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 || l.count["list"] != 3 { // 703 sets: 3 pages of 300
		t.Fatalf("whole zone: %d records in %d lists, want 4 in 3", len(all), l.count["list"])
	}
	if _, err := p.NameServers(context.Background(), zone); err != nil {
		t.Fatal(err)
	}
	l.count["list"] = 0
	got, err := p.Records(context.Background(), zone, []string{"A", "AAAA"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || l.count["list"] != 2 {
		t.Fatalf("per name: %v in %d lists, want the same 4 records in 2", got, l.count["list"])
	}
}

// TestCheckZones_WrongZoneID: an aws_zoneid of another zone is a
// permanent error naming aws_zoneid, found at the check at start.
func TestCheckZones_WrongZoneID(t *testing.T) {
	l := newLab(t, labOpts{})
	other := l.emu.AddZone("example.org")
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(l.emu.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: l.emu.AccessKeyID, SecretAccessKey: l.emu.SecretAccessKey}, nil
		})}
	p, err := New(context.Background(), Options{Names: func(string) []string { return nil }, FenceLabel: "_goavail", AWS: &cfg, ZoneIDs: map[string]string{zone: "/hostedzone/" + other}})
	if err != nil {
		t.Fatal(err)
	}
	err = p.CheckZones(context.Background(), []string{zone})
	var perm *dns.PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "is the hosted zone of example.org, not of example.com: check aws_zoneid") {
		t.Fatalf("CheckZones with another zone's id: %v", err)
	}
}
