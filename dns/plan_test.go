package dns

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

var (
	ip1 = netip.MustParseAddr("192.0.2.1")
	ip2 = netip.MustParseAddr("192.0.2.2")
	ip3 = netip.MustParseAddr("192.0.2.3")
	ip6 = netip.MustParseAddr("2001:db8::6")
)

func rec(id, name, typ, content string) Record {
	return Record{ID: id, Name: name, Type: typ, Content: content, TTL: 60}
}

var web = Group{Zone: "example.com", Hostnames: []string{"www.example.com", "api.example.com"}, Addrs: []netip.Addr{ip1, ip2, ip6}, TTL: 60, Comment: "managed by goavail"}

// summary renders a plan as "+name content" and "-id" items, sorted.
func summary(p ZonePlan) string {
	var out []string
	for _, r := range p.Creates {
		out = append(out, "+"+strings.TrimSuffix(r.Name, ".example.com")+" "+r.Content)
	}
	for _, r := range p.Deletes {
		out = append(out, "-"+r.ID)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func full() []Record {
	return []Record{
		rec("w1", "www.example.com", "A", "192.0.2.1"), rec("w2", "www.example.com", "A", "192.0.2.2"), rec("w6", "www.example.com", "AAAA", "2001:db8::6"),
		rec("a1", "api.example.com", "A", "192.0.2.1"), rec("a2", "api.example.com", "A", "192.0.2.2"), rec("a6", "api.example.com", "AAAA", "2001:db8::6"),
	}
}

func TestPlan(t *testing.T) {
	allUp := Health{ip1: true, ip2: true, ip6: true}
	for _, tc := range []struct {
		name     string
		health   Health
		actual   []Record
		want     string
		failOpen int
	}{
		{"steady state changes nothing", allUp, full(), "", 0},
		{"down address leaves every hostname", Health{ip1: false, ip2: true, ip6: true}, full(), "-a1,-w1", 0},
		{"recovered address comes back", allUp, slices.Delete(full(), 0, 1), "+www 192.0.2.1", 0},
		{"warm-up (all unknown) changes nothing", Health{}, full()[:2], "", 0},
		{"unknown address keeps its record", Health{ip1: false, ip2: true}, full(), "-a1,-w1", 0},
		{"unknown address is not added", Health{ip2: true, ip6: true}, full()[1:3], "+api 192.0.2.2,+api 2001:db8::6", 0},
		{"all down: fail-open keeps everything", Health{ip1: false, ip2: false, ip6: false}, full(), "", 2},
		{"all down: fail-open restores a hand-deleted record", Health{ip1: false, ip2: false, ip6: false}, full()[1:], "+www 192.0.2.1", 2},
		{"down plus unknown of the same type with a record: the unknown holds the name", Health{ip1: false, ip6: true}, full(), "-a1,-w1", 0},
		{"IPv4 down, IPv6 unknown with a record: the A records fail open", Health{ip1: false, ip2: false}, full(), "", 2},
		{"down plus unknown without a record: fail-open restores only the known", Health{ip1: false, ip2: false}, []Record{full()[0]}, "+api 192.0.2.1,+api 192.0.2.2,+www 192.0.2.2", 2},
		{"the only IPv6 address down: its AAAA records fail open", Health{ip1: true, ip2: true, ip6: false}, full(), "", 2},
		{"every IPv4 address down, IPv6 up: the A records fail open", Health{ip1: false, ip2: false, ip6: true}, full(), "", 2},
		{"every IPv4 address down, IPv6 up: fail-open restores a missing A record", Health{ip1: false, ip2: false, ip6: true}, full()[1:], "+www 192.0.2.1", 2},
		{"one IPv4 address down, IPv6 down: only the down A records go", Health{ip1: false, ip2: true, ip6: false}, full(), "-a1,-w1", 2},
		{"empty zone gets every up record", allUp, nil, "+api 192.0.2.1,+api 192.0.2.2,+api 2001:db8::6,+www 192.0.2.1,+www 192.0.2.2,+www 2001:db8::6", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Plan("example.com", []Group{web}, tc.health, tc.actual)
			if got := summary(p); got != tc.want {
				t.Errorf("plan = %q, want %q", got, tc.want)
			}
			if len(p.FailOpen) != tc.failOpen {
				t.Errorf("fail-open hostnames = %v, want %d", p.FailOpen, tc.failOpen)
			}
		})
	}
}

// TestPlan_FailStatic: when every address of a hostname is down, a
// fail-static group keeps exactly the records it has: it neither restores
// a missing one (as fail-open does) nor removes one.
func TestPlan_FailStatic(t *testing.T) {
	static := web
	static.FailStatic = true
	allDown := Health{ip1: false, ip2: false, ip6: false}
	for _, tc := range []struct {
		name   string
		health Health
		actual []Record
		want   string
	}{
		{"all down keeps everything", allDown, full(), ""},
		{"all down does not restore a missing record", allDown, full()[1:], ""},
		{"one up: the others of its type go as usual; the AAAA stays", Health{ip1: true, ip2: false, ip6: false}, full(), "-a2,-w2"},
	} {
		p := Plan("example.com", []Group{static}, tc.health, tc.actual)
		if got := summary(p); got != tc.want {
			t.Errorf("%s: plan = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestPlan_NeverTouchesUnmanagedRecords(t *testing.T) {
	actual := append(full(),
		rec("txt", "www.example.com", "TXT", "192.0.2.1"),              // right name and content, wrong type
		rec("other-ip", "www.example.com", "A", "192.0.2.3"),           // unmanaged address on a managed name
		rec("other-name", "mail.example.com", "A", "192.0.2.1"),        // managed address on an unmanaged name
		rec("mismatch", "www.example.com", "AAAA", "::ffff:192.0.2.1"), // v4 content in an AAAA record
	)
	p := Plan("example.com", []Group{web}, Health{ip1: false, ip2: true, ip6: true}, actual)
	if got := summary(p); got != "-a1,-w1" {
		t.Errorf("plan = %q, want only the two managed 192.0.2.1 records deleted", got)
	}
}

func TestPlan_NeverRemovesLastRecord(t *testing.T) {
	// Every subset of down addresses, every subset of present records: a
	// hostname with at least one record of a type (A or AAAA) never ends
	// with none of that type.
	addrs := web.Addrs
	for mask := 0; mask < 1<<len(addrs); mask++ {
		for present := 1; present < 1<<6; present++ {
			h := Health{}
			for i, a := range addrs {
				h[a] = mask&(1<<i) == 0
			}
			var actual []Record
			for i, r := range full() {
				if present&(1<<i) != 0 {
					actual = append(actual, r)
				}
			}
			p := Plan("example.com", []Group{web}, h, actual)
			for _, host := range web.Hostnames {
				for _, typ := range []string{"A", "AAAA"} {
					n, had := 0, 0
					for _, r := range actual {
						if r.Name == host && r.Type == typ {
							n++
							had++
						}
					}
					for _, r := range p.Deletes {
						if r.Name == host && r.Type == typ {
							n--
						}
					}
					for _, r := range p.Creates {
						if r.Name == host && r.Type == typ {
							n++
						}
					}
					if had > 0 && n == 0 {
						t.Fatalf("health %v, records %v: %s left with no %s record by %s", h, actual, host, typ, summary(p))
					}
				}
			}
		}
	}
}

func TestPlan_OtherZoneIgnored(t *testing.T) {
	other := web
	other.Zone = "example.net"
	if p := Plan("example.com", []Group{other}, Health{ip1: true}, nil); !p.Empty() {
		t.Errorf("plan for a group of another zone: %s", summary(p))
	}
	_ = ip3
}

func TestTypes(t *testing.T) {
	if got := strings.Join(Types([]Group{web}), ","); got != "A,AAAA" {
		t.Errorf("Types = %s", got)
	}
}

// TestPlan_PropertyRandomZones plans over thousands of random zones, each a
// mix of managed records, unmanaged ones (other names, other addresses,
// other types, managed names with foreign addresses) and random health, and
// checks what must always hold: a delete is always a managed name with one
// of its group's addresses and a matching type; a create is always a
// managed name and address that is not already there; no hostname that had
// a managed record is left with none; and applying the plan then planning
// again with the same health changes nothing.
func TestPlan_PropertyRandomZones(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pool := []netip.Addr{}
	for i := 1; i <= 6; i++ {
		pool = append(pool, netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i)), netip.MustParseAddr(fmt.Sprintf("2001:db8::%d", i)))
	}
	names := []string{"www.example.com", "api.example.com", "example.com", "mail.example.com", "old.example.com"}
	var deletes, creates, failOpen, waited int
	for iter := 0; iter < 3000; iter++ {
		// Up to two groups over disjoint hostnames, random address subsets.
		perm := rng.Perm(3)
		var groups []Group
		for g := 0; g < 1+rng.IntN(2); g++ {
			var addrs []netip.Addr
			for _, a := range pool {
				if rng.IntN(3) == 0 {
					addrs = append(addrs, a)
				}
			}
			if len(addrs) == 0 {
				addrs = append(addrs, pool[rng.IntN(len(pool))])
			}
			groups = append(groups, Group{Zone: "example.com", Hostnames: []string{names[perm[g]]}, Addrs: addrs, TTL: 60, FailStatic: rng.IntN(2) == 0})
		}
		managed := func(r Record) bool {
			for _, g := range groups {
				if slices.Contains(g.Hostnames, r.Name) {
					a, err := netip.ParseAddr(r.Content)
					return err == nil && slices.Contains(g.Addrs, a) && r.Type == RecordType(a)
				}
			}
			return false
		}
		var actual []Record
		for i := 0; i < rng.IntN(14); i++ {
			a := pool[rng.IntN(len(pool))]
			r := Record{ID: fmt.Sprint(i), Name: names[rng.IntN(len(names))], Type: RecordType(a), Content: a.String()}
			switch rng.IntN(6) {
			case 0:
				r.Type, r.Content = "TXT", "v=spf1 -all"
			case 1:
				r.Type, r.Content = "A", "198.51.100.9"
			case 2:
				r.Type = "CNAME"
				r.Content = "target.example.net"
			}
			actual = append(actual, r)
		}
		health := Health{}
		for _, a := range pool {
			switch rng.IntN(3) {
			case 0:
				health[a] = true
			case 1:
				health[a] = false
			}
		}
		p := Plan("example.com", groups, health, actual)
		deletes, creates, failOpen = deletes+len(p.Deletes), creates+len(p.Creates), failOpen+len(p.FailOpen)
		for _, d := range p.Deletes {
			if !managed(d) {
				t.Fatalf("iteration %d: deletes unmanaged %s\ngroups %+v", iter, d, groups)
			}
		}
		has := func(rs []Record, name, content string) bool {
			return slices.ContainsFunc(rs, func(r Record) bool { return r.Name == name && r.Content == content })
		}
		for _, c := range p.Creates {
			if !managed(c) || has(actual, c.Name, c.Content) {
				t.Fatalf("iteration %d: bad create %s", iter, c)
			}
		}
		after := slices.DeleteFunc(slices.Clone(actual), func(r Record) bool {
			return slices.ContainsFunc(p.Deletes, func(d Record) bool { return d.ID == r.ID })
		})
		after = append(after, p.Creates...)
		for _, g := range groups {
			for _, h := range g.Hostnames {
				before := slices.ContainsFunc(actual, func(r Record) bool { return r.Name == h && managed(r) })
				now := slices.ContainsFunc(after, func(r Record) bool { return r.Name == h && managed(r) })
				if before && !now {
					t.Fatalf("iteration %d: %s lost its last managed record\nactual %v\nplan %+v\nhealth %v", iter, h, actual, p, health)
				}
			}
		}
		// Removals that wait for their replacements come in the next pass,
		// and only they.
		again := Plan("example.com", groups, health, after)
		if len(again.Creates) > 0 || len(again.Waiting) > 0 || summary(ZonePlan{Deletes: again.Deletes}) != summary(ZonePlan{Deletes: p.Waiting}) {
			t.Fatalf("iteration %d: the second pass is not the waiting removals %v: %+v", iter, p.Waiting, again)
		}
		waited += len(p.Waiting)
		after = slices.DeleteFunc(after, func(r Record) bool {
			return slices.ContainsFunc(again.Deletes, func(d Record) bool { return d.ID == r.ID })
		})
		if again := Plan("example.com", groups, health, after); !again.Empty() {
			t.Fatalf("iteration %d: not converged after applying: %+v", iter, again)
		}
		unmanagedBefore := slices.DeleteFunc(slices.Clone(actual), managed)
		unmanagedAfter := slices.DeleteFunc(slices.Clone(after), managed)
		ids := func(rs []Record) string {
			var b strings.Builder
			for _, r := range rs {
				fmt.Fprintf(&b, "%s=%s;", r.ID, r)
			}
			return b.String()
		}
		if ids(unmanagedBefore) != ids(unmanagedAfter) {
			t.Fatalf("iteration %d: unmanaged records changed: %v -> %v", iter, unmanagedBefore, unmanagedAfter)
		}
	}
	if deletes == 0 || creates == 0 || failOpen == 0 {
		t.Errorf("the random zones never exercised deletes (%d), creates (%d) or fail-open (%d)", deletes, creates, failOpen)
	}
	t.Logf("%d deletes, %d creates, %d fail-open hostnames, %d removals waiting for their replacement over 3000 zones", deletes, creates, failOpen, waited)
}

// TestPlan_Drained: a drained address leaves DNS whatever its health, is
// never restored by fail-open, and returns once it is no longer drained.
func TestPlan_Drained(t *testing.T) {
	drained := web
	drained.Drained = []netip.Addr{ip1}
	for _, tc := range []struct {
		name   string
		g      Group
		health Health
		actual []Record
		want   string
	}{
		{"drained and up: removed", drained, Health{ip1: true, ip2: true, ip6: true}, full(), "-a1,-w1"},
		{"drained and unknown: removed", drained, Health{ip2: true, ip6: true}, full(), "-a1,-w1"},
		{"drained and absent: not created", drained, Health{ip1: true, ip2: true, ip6: true}, full()[1:3], "+api 192.0.2.2,+api 2001:db8::6"},
		{"others down: fail-open restores them, not the drained one", drained, Health{ip1: true, ip2: false, ip6: false}, full(), "-a1,-w1"},
		{"undrained: comes back", web, Health{ip1: true, ip2: true, ip6: true}, full()[1:], "+www 192.0.2.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Plan("example.com", []Group{tc.g}, tc.health, tc.actual)
			if s := summary(got); s != tc.want {
				t.Errorf("plan = %q, want %q", s, tc.want)
			}
		})
	}
}
