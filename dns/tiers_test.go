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
	p1 = netip.MustParseAddr("192.0.2.11")
	p2 = netip.MustParseAddr("192.0.2.12")
	p3 = netip.MustParseAddr("192.0.2.13")
	b1 = netip.MustParseAddr("198.51.100.21")
	b2 = netip.MustParseAddr("198.51.100.22")
	f1 = netip.MustParseAddr("203.0.113.31")
)

func addrList(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(a.String(), "192.0.2."), "198.51.100."), "203.0.113.")
	}
	return strings.Join(s, ",")
}

func TestDecideTier(t *testing.T) {
	prim := []netip.Addr{p1, p2}
	back := []netip.Addr{b1}
	fall := []netip.Addr{f1}
	none := map[netip.Addr]int{}
	on := func(as ...netip.Addr) map[netip.Addr]int {
		m := map[netip.Addr]int{}
		for _, a := range as {
			m[a] = 1
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		in       TierInput
		tier     Tier
		want     string
		evidence string // primaries up / need, backups up
	}{
		{"every primary up: primaries only", TierInput{Primaries: prim, Backups: back, Health: Health{p1: true, p2: true, b1: true}, Present: on(p1, p2)}, TierPrimary, "11,12", "2/1 1"},
		{"one primary up is enough by default", TierInput{Primaries: prim, Backups: back, Health: Health{p1: true, p2: false, b1: true}, Present: on(p1, p2)}, TierPrimary, "11", "1/1 1"},
		{"both primaries down: the backup", TierInput{Primaries: prim, Backups: back, Health: Health{p1: false, p2: false, b1: true}, Present: on(p1, p2)}, TierBackup, "21", "0/1 1"},
		{"a backup that is withdrawn goes once a primary is up", TierInput{Primaries: prim, Backups: back, Health: Health{p1: true, p2: false, b1: true}, Present: on(b1)}, TierPrimary, "11", "1/1 1"},
		{"min_primary_up 2 of 3: one left adds the backups", TierInput{Primaries: []netip.Addr{p1, p2, p3}, Backups: []netip.Addr{b1, b2}, MinPrimaryUp: 2, Health: Health{p1: true, p2: false, p3: false, b1: true, b2: true}, Present: on(p1)}, TierBackup, "11,21,22", "1/2 2"},
		{"min_primary_up 2 of 3: two up is enough", TierInput{Primaries: []netip.Addr{p1, p2, p3}, Backups: back, MinPrimaryUp: 2, Health: Health{p1: true, p2: true, p3: false, b1: true}, Present: on(p1, p2, b1)}, TierPrimary, "11,12", "2/2 1"},
		{"min_primary_up is capped at the primaries of the type", TierInput{Primaries: []netip.Addr{p1}, Backups: back, MinPrimaryUp: 2, Health: Health{p1: true, b1: true}, Present: on(p1)}, TierPrimary, "11", "1/1 1"},
		{"a drained primary counts as down", TierInput{Primaries: prim, Backups: back, Drained: []netip.Addr{p1}, Health: Health{p1: true, p2: false, b1: true}, Present: on(p1, p2)}, TierBackup, "21", "0/1 1"},
		{"a drained backup is never published", TierInput{Primaries: prim, Backups: back, Drained: []netip.Addr{b1}, Health: Health{p1: false, p2: false, b1: true}, Present: on(p1, p2)}, TierFailOpen, "11,12", "0/1 0"},
		{"damped (down in the health) primary counts as down", TierInput{Primaries: prim, Backups: back, Health: Health{p1: false, p2: false, b1: true}, Present: on(p1)}, TierBackup, "21", "0/1 1"},
		{"backups down too: fallback", TierInput{Primaries: prim, Backups: back, Fallbacks: fall, Health: Health{p1: false, p2: false, b1: false}, Present: on(p1, p2)}, TierFallback, "31", "0/1 0"},
		{"no backups, primaries down: fallback", TierInput{Primaries: prim, Fallbacks: fall, Health: Health{p1: false, p2: false}, Present: on(p1)}, TierFallback, "31", "0/1 0"},
		{"fallback withdrawn once a backup is up", TierInput{Primaries: prim, Backups: back, Fallbacks: fall, Health: Health{p1: false, p2: false, b1: true}, Present: on(f1)}, TierBackup, "21", "0/1 1"},
		{"fallback withdrawn once a primary is up", TierInput{Primaries: prim, Fallbacks: fall, Health: Health{p1: true, p2: false}, Present: on(f1)}, TierPrimary, "11", "1/1 0"},
		{"warm-up after a restart keeps the fallback there", TierInput{Primaries: prim, Backups: back, Fallbacks: fall, Health: Health{}, Present: on(f1)}, TierFallback, "31", "0/1 0"},
		{"warm-up keeps primaries and backups there, adds nothing", TierInput{Primaries: prim, Backups: back, Fallbacks: fall, Health: Health{}, Present: on(p1, b1)}, TierBackup, "11,21", "0/1 0"},
		{"warm-up on an empty name adds nothing", TierInput{Primaries: prim, Backups: back, Fallbacks: fall, Health: Health{}, Present: none}, TierPrimary, "", "0/1 0"},
		{"every watched address down, no fallback: fail-open restores primaries, keeps backups there", TierInput{Primaries: prim, Backups: back, Health: Health{p1: false, p2: false, b1: false}, Present: on(p1, b1)}, TierFailOpen, "11,12,21", "0/1 0"},
		{"fail-open does not add a backup", TierInput{Primaries: prim, Backups: back, Health: Health{p1: false, p2: false, b1: false}, Present: on(p1)}, TierFailOpen, "11,12", "0/1 0"},
		{"fail-static keeps what is there", TierInput{Primaries: prim, Backups: back, FailStatic: true, Health: Health{p1: false, p2: false, b1: false}, Present: on(p2, b1)}, TierFailStatic, "12,21", "0/1 0"},
		{"a type without primaries never publishes its backups (config refuses it)", TierInput{Backups: back, Health: Health{b1: true}, Present: none}, TierFailOpen, "", "0/0 1"},
		{"unknown primary with a record holds the name", TierInput{Primaries: prim, Backups: back, Fallbacks: fall, Health: Health{p1: false, b1: false}, Present: on(p2)}, TierPrimary, "12", "0/1 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := DecideTier(tc.in)
			if d.Tier != tc.tier || addrList(d.Want) != tc.want {
				t.Errorf("tier %s want %q; expected tier %s want %q", d.Tier, addrList(d.Want), tc.tier, tc.want)
			}
			if ev := fmt.Sprintf("%d/%d %d", d.PrimariesUp, d.Need, d.BackupsUp); ev != tc.evidence {
				t.Errorf("evidence %q, want %q", ev, tc.evidence)
			}
		})
	}
}

// site is a tiered group: two IPv4 primaries, an IPv4 backup, an IPv6
// primary and an IPv6 backup, and an IPv4 fallback.
var (
	v6p  = netip.MustParseAddr("2001:db8::11")
	v6b  = netip.MustParseAddr("2001:db8::21")
	site = Group{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{p1, p2, v6p, b1, v6b, f1},
		Backups: []netip.Addr{b1, v6b}, Fallbacks: []netip.Addr{f1}, TTL: 60}
)

func siteRecs(as ...netip.Addr) []Record {
	var out []Record
	for _, a := range as {
		out = append(out, rec("r"+addrList([]netip.Addr{a}), "www.example.com", RecordType(a), a.String()))
	}
	return out
}

func tierSummary(p ZonePlan) string {
	var s []string
	for _, t := range p.Tiers {
		s = append(s, t.Type+"="+string(t.Tier))
	}
	return strings.Join(s, ",")
}

func TestPlan_Tiers(t *testing.T) {
	up := Health{p1: true, p2: true, v6p: true, b1: true, v6b: true}
	for _, tc := range []struct {
		name    string
		health  Health
		actual  []Record
		want    string // summary of creates and deletes
		waiting string
		tiers   string
	}{
		{"steady: primaries only", up, siteRecs(p1, p2, v6p), "", "", "A=primary,AAAA=primary"},
		{"stray backup record withdrawn", up, siteRecs(p1, p2, v6p, b1), "-r21", "", "A=primary,AAAA=primary"},
		{"IPv4 primaries down: the IPv4 backup is created first, the primaries wait", Health{p1: false, p2: false, v6p: true, b1: true, v6b: true}, siteRecs(p1, p2, v6p),
			"+www 198.51.100.21", "r11,r12", "A=backup,AAAA=primary"},
		{"next pass: the backup is listed, the primaries go", Health{p1: false, p2: false, v6p: true, b1: true, v6b: true}, siteRecs(p1, p2, v6p, b1),
			"-r11,-r12", "", "A=backup,AAAA=primary"},
		{"a primary back: restored first, the backup waits", Health{p1: true, p2: false, v6p: true, b1: true, v6b: true}, siteRecs(v6p, b1),
			"+www 192.0.2.11", "r21", "A=primary,AAAA=primary"},
		{"next pass: the backup goes", Health{p1: true, p2: false, v6p: true, b1: true, v6b: true}, siteRecs(p1, v6p, b1),
			"-r21", "", "A=primary,AAAA=primary"},
		{"everything down: the fallback first", Health{p1: false, p2: false, v6p: false, b1: false, v6b: false}, siteRecs(b1, v6p),
			"+www 203.0.113.31", "r21", "A=fallback,AAAA=fail-open"},
		{"IPv6 down alone: only the IPv6 backup", Health{p1: true, p2: true, v6p: false, b1: true, v6b: true}, siteRecs(p1, p2, v6p),
			"+www 2001:db8::21", "r2001:db8::11", "A=primary,AAAA=backup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Plan("example.com", []Group{site}, tc.health, tc.actual)
			if got := summary(p); got != tc.want {
				t.Errorf("plan = %q, want %q", got, tc.want)
			}
			var w []string
			for _, r := range p.Waiting {
				w = append(w, r.ID)
			}
			if got := strings.Join(w, ","); got != tc.waiting {
				t.Errorf("waiting = %q, want %q", got, tc.waiting)
			}
			if got := tierSummary(p); got != tc.tiers {
				t.Errorf("tiers = %q, want %q", got, tc.tiers)
			}
		})
	}
}

// TestPlan_ReplacementWaits: a plain group (no tiers) whose last record of a
// type goes while another address comes back creates first and removes in
// a later pass; a removal next to a record that stays is not held.
func TestPlan_ReplacementWaits(t *testing.T) {
	g := Group{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2, ip3}, TTL: 60}
	for _, tc := range []struct {
		name          string
		health        Health
		actual        []Record
		want, waiting string
	}{
		{"last record replaced: create now, delete later", Health{ip1: false, ip2: true}, []Record{rec("w1", "www.example.com", "A", "192.0.2.1")}, "+www 192.0.2.2", "w1"},
		{"then the delete", Health{ip1: false, ip2: true}, []Record{rec("w1", "www.example.com", "A", "192.0.2.1"), rec("w2", "www.example.com", "A", "192.0.2.2")}, "-w1", ""},
		{"a record stays: removal and restore together", Health{ip1: false, ip2: true, ip3: true}, []Record{rec("w1", "www.example.com", "A", "192.0.2.1"), rec("w2", "www.example.com", "A", "192.0.2.2")}, "+www 192.0.2.3,-w1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Plan("example.com", []Group{g}, tc.health, tc.actual)
			if got := summary(p); got != tc.want {
				t.Errorf("plan = %q, want %q", got, tc.want)
			}
			var w []string
			for _, r := range p.Waiting {
				w = append(w, r.ID)
			}
			if got := strings.Join(w, ","); got != tc.waiting {
				t.Errorf("waiting = %q, want %q", got, tc.waiting)
			}
		})
	}
}

// TestPlan_TiersProperty plans random tiered groups (primaries, backups
// and fallbacks of both types, drains, min_primary_up) over random health
// and random records, and checks what must always hold: applying a plan
// never leaves a hostname without a record of a type it had (unless only
// drained addresses' records went); the next
// plan is exactly the removals that waited; the one after is empty; and
// once converged, a backup of known health has a record only in the
// backup tier (or kept by fail-open or fail-static; one of unknown health
// keeps the record it has, like any address) and a fallback only in the
// fallback tier.
func TestPlan_TiersProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var pool []netip.Addr
	for i := 1; i <= 5; i++ {
		pool = append(pool, netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i)), netip.MustParseAddr(fmt.Sprintf("2001:db8::%d", i)))
	}
	host := "www.example.com"
	var tiers = map[Tier]int{}
	waited := 0
	for iter := 0; iter < 5000; iter++ {
		g := Group{Zone: "example.com", Hostnames: []string{host}, TTL: 60, FailStatic: rng.IntN(4) == 0, MinPrimaryUp: 1 + rng.IntN(3)}
		for _, a := range rng.Perm(len(pool)) {
			switch rng.IntN(4) {
			case 0:
				g.Addrs = append(g.Addrs, pool[a])
			case 1:
				g.Addrs = append(g.Addrs, pool[a])
				g.Backups = append(g.Backups, pool[a])
			case 2:
				g.Addrs = append(g.Addrs, pool[a])
				g.Fallbacks = append(g.Fallbacks, pool[a])
			}
		}
		if len(g.Backups)+len(g.Fallbacks) == 0 {
			continue
		}
		valid := true // config refuses backups and fallbacks of a type with no primary
		for _, typ := range []string{"A", "AAAA"} {
			in := g.tierInput(typ, nil, nil)
			valid = valid && (len(in.Primaries) > 0 || len(in.Backups)+len(in.Fallbacks) == 0)
		}
		if !valid {
			continue
		}
		health := Health{}
		for _, a := range g.Addrs {
			if slices.Contains(g.Fallbacks, a) {
				continue // never watched
			}
			switch rng.IntN(4) {
			case 0, 1:
				health[a] = rng.IntN(2) == 0
			case 2:
				health[a] = false
			}
			if rng.IntN(8) == 0 {
				g.Drained = append(g.Drained, a)
			}
		}
		var actual []Record
		for i, a := range g.Addrs {
			if rng.IntN(2) == 0 {
				actual = append(actual, Record{ID: fmt.Sprint("r", i), Name: host, Type: RecordType(a), Content: a.String()})
			}
		}
		count := func(rs []Record) map[string]int {
			n := map[string]int{}
			for _, r := range rs {
				n[r.Type]++
			}
			return n
		}
		apply := func(rs []Record, p ZonePlan) []Record {
			out := slices.DeleteFunc(slices.Clone(rs), func(r Record) bool {
				return slices.ContainsFunc(p.Deletes, func(d Record) bool { return d.ID == r.ID })
			})
			for i, c := range p.Creates {
				c.ID = fmt.Sprint("n", iter, "-", len(rs), "-", i)
				out = append(out, c)
			}
			return out
		}
		p := Plan("example.com", []Group{g}, health, actual)
		after := apply(actual, p)
		for typ, n := range count(actual) {
			drainedOnly := !slices.ContainsFunc(p.Deletes, func(d Record) bool {
				return d.Type == typ && !slices.Contains(g.Drained, netip.MustParseAddr(d.Content))
			})
			if n > 0 && count(after)[typ] == 0 && !drainedOnly { // draining a type's last address is the operator's to do
				t.Fatalf("iteration %d: %s lost its last %s record\ngroup %+v\nhealth %v\nactual %v\nplan %+v", iter, host, typ, g, health, actual, p)
			}
		}
		again := Plan("example.com", []Group{g}, health, after)
		if len(again.Creates) > 0 || len(again.Waiting) > 0 || summary(ZonePlan{Deletes: again.Deletes}) != summary(ZonePlan{Deletes: p.Waiting}) {
			t.Fatalf("iteration %d: the second plan %+v is not the waiting removals %v", iter, again, p.Waiting)
		}
		waited += len(p.Waiting)
		after = apply(after, again)
		last := Plan("example.com", []Group{g}, health, after)
		if !last.Empty() {
			t.Fatalf("iteration %d: not converged: %+v", iter, last)
		}
		for _, ht := range last.Tiers {
			tiers[ht.Tier]++
			for _, r := range after {
				a := netip.MustParseAddr(r.Content)
				if r.Type != ht.Type {
					continue
				}
				_, known := health[a]
				if slices.Contains(g.Backups, a) && known && ht.Tier != TierBackup && ht.Tier != TierFailOpen && ht.Tier != TierFailStatic {
					t.Fatalf("iteration %d: backup %s published in tier %s\ngroup %+v health %v", iter, a, ht.Tier, g, health)
				}
				if slices.Contains(g.Fallbacks, a) && ht.Tier != TierFallback {
					t.Fatalf("iteration %d: fallback %s published in tier %s\ngroup %+v health %v", iter, a, ht.Tier, g, health)
				}
			}
			if ht.Tier == TierBackup && ht.PrimariesUp >= ht.MinPrimaryUp {
				t.Fatalf("iteration %d: backup tier with %d of %d primaries up", iter, ht.PrimariesUp, ht.MinPrimaryUp)
			}
			if ht.Tier == TierFallback && ht.PrimariesUp+ht.BackupsUp > 0 {
				t.Fatalf("iteration %d: fallback tier with primaries or backups up: %+v", iter, ht)
			}
		}
	}
	for _, tier := range []Tier{TierPrimary, TierBackup, TierFallback, TierFailOpen, TierFailStatic} {
		if tiers[tier] == 0 {
			t.Errorf("the random groups never reached tier %s: %v", tier, tiers)
		}
	}
	if waited == 0 {
		t.Error("no removal ever waited for its replacement")
	}
	t.Logf("tiers reached %v; %d removals waited", tiers, waited)
}
