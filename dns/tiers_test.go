package dns

import (
	"fmt"
	"net/netip"
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

func addrs(as []netip.Addr) string {
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
			if d.Tier != tc.tier || addrs(d.Want) != tc.want {
				t.Errorf("tier %s want %q; expected tier %s want %q", d.Tier, addrs(d.Want), tc.tier, tc.want)
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
		out = append(out, rec("r"+addrs([]netip.Addr{a}), "www.example.com", RecordType(a), a.String()))
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
