package dns

import (
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
		{"down plus unknown with a record: the unknown holds the name", Health{ip1: false, ip2: false}, full(), "-a1,-a2,-w1,-w2", 0},
		{"down plus unknown without a record: fail-open restores only the known", Health{ip1: false, ip2: false}, []Record{full()[0]}, "+api 192.0.2.1,+api 192.0.2.2,+www 192.0.2.2", 2},
		{"IPv6 down removes only AAAA", Health{ip1: true, ip2: true, ip6: false}, full(), "-a6,-w6", 0},
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
	// hostname with at least one record never ends with none.
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
				n := 0
				for _, r := range actual {
					if r.Name == host {
						n++
					}
				}
				for _, r := range p.Deletes {
					if r.Name == host {
						n--
					}
				}
				for _, r := range p.Creates {
					if r.Name == host {
						n++
					}
				}
				if n == 0 {
					t.Fatalf("health %v, records %v: %s left empty by %s", h, actual, host, summary(p))
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
