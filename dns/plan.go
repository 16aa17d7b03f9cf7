package dns

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Record is a DNS record as a Provider reports it.
type Record struct {
	ID      string
	Name    string // fully qualified, lower case, no trailing dot
	Type    string // "A" or "AAAA"
	Content string
	TTL     int
	Proxied bool
	Comment string
	Tags    []string
	// Created is when the provider says the record was created (zero
	// when it does not say): a new writer uses it to wait for records its
	// predecessor created moments ago (PropagationChecker.Propagated).
	Created time.Time `json:"created,omitzero"`
}

func (r Record) String() string { return fmt.Sprintf("%s %s %s", r.Name, r.Type, r.Content) }

// Group is one set of hostnames in one zone that should point at whichever
// of Addrs are up.
type Group struct {
	Zone      string
	Hostnames []string // fully qualified, lower case
	// Addrs is every address the group manages: its primaries, and its
	// Backups and Fallbacks when it has any (see tiers.go).
	Addrs []netip.Addr
	// Backups are addresses of Addrs published only while fewer than
	// MinPrimaryUp primaries (Addrs that are neither Backups nor
	// Fallbacks) of their record type are up; Fallbacks, addresses of
	// Addrs published only while no primary or backup of their type is.
	Backups, Fallbacks []netip.Addr
	MinPrimaryUp       int
	// TTL of the records it creates; 0 means unset: a record goavail
	// removed comes back with its own ttl, a new one gets DefaultTTL
	// (Memory.Restore).
	TTL     int
	Proxied bool
	Comment string
	// FailStatic: when every known address of one type (A or AAAA) is
	// down, keep the hostname's records of that type exactly as they are,
	// instead of keeping or restoring every known address of that type
	// (fail-open, the default).
	FailStatic bool
	// Drained are addresses of Addrs taken out of DNS on purpose: never
	// desired whatever their health, and never restored by fail-open.
	Drained []netip.Addr
}

// Health says what is known of each address: true up, false down. An address
// that is absent is unknown, and its records are left as they are.
type Health map[netip.Addr]bool

// ZonePlan is what one zone needs to match the desired state.
type ZonePlan struct {
	Zone    string
	Creates []Record
	Deletes []Record
	// FailOpen lists hostnames whose every known address of one record
	// type (A or AAAA) is down: those records are kept (or, fail-open,
	// restored) rather than leaving the name with no record of that type.
	FailOpen []string
	// Applied is set by the Reconciler when every change it sent was made.
	// Creates and Deletes then hold what was made; a change that was not
	// is in Failed, Quarantined or Blocked instead.
	Applied bool `json:"applied"`
	// Deferred are removals the Reconciler held back under its removal
	// limit; a later pass makes them.
	Deferred []Record `json:"deferred,omitempty"`
	// Failed are changes not made this pass because the API failed
	// (transiently); the next pass tries again.
	Failed []FailedChange `json:"failed,omitempty"`
	// Quarantined are the zone's changes that Cloudflare refuses for what
	// they are; they are retried slowly (see Quarantine).
	Quarantined []Quarantined `json:"quarantined,omitempty"`
	// FenceRefused counts this pass's writes to the zone that the provider
	// refused because the zone's fence had moved (zonefence.go).
	FenceRefused int `json:"fence_refused,omitempty"`
	// Foreign is set when the zone's fence was last written by another
	// deployment (config key deployment).
	Foreign *ForeignFence `json:"foreign,omitempty"`
	// Blocked are removals held back because the hostname's restore failed
	// or is quarantined: sending them would leave the name with no record.
	Blocked []Record `json:"blocked,omitempty"`
	// Waiting are removals held until the records replacing them exist:
	// a removal that would leave a hostname with no record of its type
	// while that type's replacements are created waits for a later pass,
	// so no name is ever empty (make before break).
	Waiting []Record `json:"waiting,omitempty"`
	// Tiers are the tiers serving each hostname and record type of the
	// groups with backup or fallback addresses (tiers.go).
	Tiers []HostTier `json:"tiers,omitempty"`
	// Listed are, on a standby pass, the managed records the listing
	// found (a managed hostname with one of its group's addresses): an
	// agent that does not write compares two passes' listings to see the
	// writer's changes, also those made before it planned them.
	Listed []Record `json:"-"`
}

// FailedChange is a change the API did not make this pass.
type FailedChange struct {
	Action string // ActionCreate or ActionDelete
	Record Record
	Err    string
}

// Change actions.
const (
	ActionCreate = "create"
	ActionDelete = "delete"
)

// Empty reports whether the plan changes nothing.
func (p ZonePlan) Empty() bool { return len(p.Creates) == 0 && len(p.Deletes) == 0 }

// RecordType is the record type for an address: A for IPv4, AAAA for IPv6.
func RecordType(a netip.Addr) string {
	if a.Is4() || a.Is4In6() {
		return "A"
	}
	return "AAAA"
}

// Types returns the record types a set of groups needs listed.
func Types(groups []Group) []string {
	var out []string
	for _, g := range groups {
		for _, a := range g.Addrs {
			if t := RecordType(a); !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Plan computes the changes that bring zone's actual records to the desired
// state for groups (those whose Zone is zone) under health. For each managed
// hostname the desired addresses are those up, plus those unknown that
// already have a record. If that leaves a hostname with none of one record
// type (A or AAAA) while some of its addresses of that type are known, all
// its known addresses of that type are kept or restored (fail-open, per
// hostname and record type), or, for a FailStatic group, the records of that
// type it has stay as they are. A Drained address is never desired, fail-open included. Records
// whose name is not a managed hostname, or whose content is not one of that
// hostname's managed addresses, are never touched.
func Plan(zone string, groups []Group, health Health, actual []Record) ZonePlan {
	p := ZonePlan{Zone: zone}
	// Indices, not copies: at 100,000 records the copies were most of a
	// pass's memory.
	byName := map[string][]int32{}
	for i, r := range actual {
		name := strings.ToLower(r.Name)
		byName[name] = append(byName[name], int32(i))
	}
	// Reused from hostname to hostname: a pass at 100,000 addresses made
	// two maps per hostname.
	var mine []managed              // managed records on this name
	present := map[netip.Addr]int{} // how many of them each address has
	want := map[netip.Addr]bool{}
	for _, g := range groups {
		if g.Zone != zone {
			continue
		}
		for _, host := range g.Hostnames {
			clear(present)
			clear(want)
			mine = mine[:0]
			var known, wanted [2]bool // by record type: A, AAAA (family)
			for _, i := range byName[host] {
				r := &actual[i]
				a, err := netip.ParseAddr(r.Content)
				if err != nil || RecordType(a) != r.Type || !slices.Contains(g.Addrs, a.Unmap()) {
					continue
				}
				mine = append(mine, managed{a.Unmap(), i})
				present[a.Unmap()]++
			}
			if g.Tiered() {
				planTiers(&p, g, host, health, present, want)
				p.deletesOrWait(g, host, want, present, mine, actual)
				continue
			}
			for _, a := range g.Addrs {
				if slices.Contains(g.Drained, a) {
					continue
				}
				up, ok := health[a]
				known[family(a)] = known[family(a)] || ok
				if (ok && up) || (!ok && present[a] > 0) {
					want[a] = true
					wanted[family(a)] = true
				}
			}
			// Fail-open per record type: with every IPv4 address down and
			// IPv6 up, the A records stay, or IPv4-only clients get NODATA.
			failOpen := false
			for f := range known {
				if wanted[f] || !known[f] {
					continue
				}
				failOpen = true
				for _, a := range g.Addrs {
					_, ok := health[a]
					if family(a) != f || slices.Contains(g.Drained, a) {
						continue
					}
					if (ok && !g.FailStatic) || present[a] > 0 {
						want[a] = true // known addresses, never an unknown one with no record; fail-static: only those there
					}
				}
			}
			if failOpen {
				p.FailOpen = append(p.FailOpen, host)
			}
			p.deletesOrWait(g, host, want, present, mine, actual)
		}
	}
	return p
}

// family indexes an address's record type: 0 for A, 1 for AAAA.
func family(a netip.Addr) int {
	if RecordType(a) == "A" {
		return 0
	}
	return 1
}

// managed is a listed record (by index) of a managed hostname and address.
type managed struct {
	addr netip.Addr
	i    int32
}

// deletesOrWait plans host's creates and deletes for want. A record type
// whose wanted addresses all lack a record while some of its records go
// has its removals held in Waiting: the creates land first, and the
// removals in a later pass, once the listing shows the new records, so
// that resolvers never find the name without an answer of that type.
func (p *ZonePlan) deletesOrWait(g Group, host string, want map[netip.Addr]bool, present map[netip.Addr]int, mine []managed, actual []Record) {
	var creating, keeping [2]bool // by type: A, AAAA
	ti := func(a netip.Addr) int {
		if RecordType(a) == "A" {
			return 0
		}
		return 1
	}
	for _, a := range g.Addrs {
		switch {
		case want[a] && present[a] == 0:
			creating[ti(a)] = true
			p.Creates = append(p.Creates, Record{Name: host, Type: RecordType(a), Content: a.String(), TTL: g.TTL, Proxied: g.Proxied, Comment: g.Comment})
		case want[a]:
			keeping[ti(a)] = true
		}
	}
	for _, a := range g.Addrs {
		if want[a] || present[a] == 0 {
			continue
		}
		for _, m := range mine {
			if m.addr == a {
				if t := ti(a); creating[t] && !keeping[t] {
					p.Waiting = append(p.Waiting, actual[m.i])
				} else {
					p.Deletes = append(p.Deletes, actual[m.i])
				}
			}
		}
	}
}
