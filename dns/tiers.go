package dns

import (
	"net/netip"
	"slices"
)

// Tier names which of a hostname's address sets serves one record type.
type Tier string

// Tiers, from the normal answer to the last resort.
const (
	// TierPrimary: the hostname's primary addresses that are up.
	TierPrimary Tier = "primary"
	// TierBackup: fewer than min_primary_up primaries are up, so the
	// backups that are up are published beside them.
	TierBackup Tier = "backup"
	// TierFallback: no primary or backup is up; the unwatched fallback
	// addresses are published.
	TierFallback Tier = "fallback"
	// TierFailOpen: every watched address is down and there is no
	// fallback; the known primaries are kept or restored, and backup
	// records already there are kept.
	TierFailOpen Tier = "fail-open"
	// TierFailStatic: as fail-open, for an all_down = "fail-static" group:
	// the records stay exactly as they are.
	TierFailStatic Tier = "fail-static"
)

// TierInput is what decides the tier of one hostname for one record type.
// Every address list holds addresses of that type only.
type TierInput struct {
	Primaries, Backups, Fallbacks []netip.Addr
	// MinPrimaryUp is how many primaries must be up for the backups to
	// stay out; below 1 it is 1, and it is never more than
	// len(Primaries).
	MinPrimaryUp int
	FailStatic   bool
	// Drained addresses count as down and are never wanted.
	Drained []netip.Addr
	// Health is the agreed health (flap-damped addresses are down in it);
	// an absent address is unknown.
	Health Health
	// Present counts the hostname's records of each address.
	Present map[netip.Addr]int
}

// TierDecision is DecideTier's answer, with its evidence.
type TierDecision struct {
	Tier Tier
	// Want are the addresses that should have a record: primaries, then
	// backups, then fallbacks.
	Want []netip.Addr
	// PrimariesUp and BackupsUp count the addresses known up and not
	// drained; Need is the effective min_primary_up.
	PrimariesUp, BackupsUp, Need int
	// Known is whether any primary or backup (not drained) has a known
	// health.
	Known bool
}

// DecideTier chooses, for one hostname and one record type, the addresses
// that should be published and the tier that serves. It is pure: every
// agent that agrees on the health computes the same answer.
//
//   - A primary or backup is wanted when it is up, or unknown with a record
//     already (as Plan does for every address); a drained one never.
//   - The backups are wanted only while fewer than Need primaries are up,
//     Need being MinPrimaryUp capped at the number of primaries.
//   - When that wants nothing while some address is known, the fallbacks
//     are wanted, or without fallbacks fail-open keeps the records there
//     and restores the known primaries (fail-static only keeps them).
//   - Fallback records already there are kept while no primary or backup
//     is up, so a restart (everything unknown) never empties the name.
func DecideTier(in TierInput) TierDecision {
	d := TierDecision{Tier: TierPrimary, Need: min(max(in.MinPrimaryUp, 1), len(in.Primaries))}
	wanted := func(addrs []netip.Addr) (want []netip.Addr, up int) {
		for _, a := range addrs {
			if slices.Contains(in.Drained, a) {
				continue
			}
			h, ok := in.Health[a]
			d.Known = d.Known || ok
			if ok && h {
				up++
			}
			if (ok && h) || (!ok && in.Present[a] > 0) {
				want = append(want, a)
			}
		}
		return want, up
	}
	var backups []netip.Addr
	d.Want, d.PrimariesUp = wanted(in.Primaries)
	backups, d.BackupsUp = wanted(in.Backups)
	if d.PrimariesUp < d.Need && len(backups) > 0 {
		d.Want, d.Tier = append(d.Want, backups...), TierBackup
	}
	switch {
	case len(d.Want) == 0 && d.Known && len(in.Fallbacks) > 0:
		d.Want, d.Tier = slices.Clone(in.Fallbacks), TierFallback
	case len(d.Want) == 0 && d.Known:
		d.Tier = TierFailOpen
		if in.FailStatic {
			d.Tier = TierFailStatic
		}
		for _, a := range in.Primaries {
			_, ok := in.Health[a]
			if !slices.Contains(in.Drained, a) && ((ok && !in.FailStatic) || in.Present[a] > 0) {
				d.Want = append(d.Want, a)
			}
		}
		for _, a := range in.Backups {
			if !slices.Contains(in.Drained, a) && in.Present[a] > 0 {
				d.Want = append(d.Want, a)
			}
		}
	case d.PrimariesUp+d.BackupsUp == 0:
		// Nothing is up, but something has a record (or nothing is known):
		// fallback records already there stay.
		for _, a := range in.Fallbacks {
			if in.Present[a] > 0 {
				d.Want, d.Tier = append(d.Want, a), TierFallback
			}
		}
	}
	return d
}

// HostTier is the tier serving one hostname's records of one type, with
// the evidence: how many primaries are up of how many, the effective
// min_primary_up, and how many backups are up of how many.
type HostTier struct {
	Name         string `json:"name"`
	Type         string `json:"type"`
	Tier         Tier   `json:"tier"`
	PrimariesUp  int    `json:"primaries_up"`
	Primaries    int    `json:"primaries"`
	MinPrimaryUp int    `json:"min_primary_up"`
	BackupsUp    int    `json:"backups_up"`
	Backups      int    `json:"backups"`
	Fallbacks    int    `json:"fallbacks"`
}

// Tiered reports whether the group has backup or fallback addresses.
func (g Group) Tiered() bool { return len(g.Backups)+len(g.Fallbacks) > 0 }

// tierInput is the TierInput of g's addresses of one record type.
func (g Group) tierInput(typ string, health Health, present map[netip.Addr]int) TierInput {
	in := TierInput{MinPrimaryUp: g.MinPrimaryUp, FailStatic: g.FailStatic, Drained: g.Drained, Health: health, Present: present}
	for _, a := range g.Addrs {
		if RecordType(a) != typ {
			continue
		}
		switch {
		case slices.Contains(g.Backups, a):
			in.Backups = append(in.Backups, a)
		case slices.Contains(g.Fallbacks, a):
			in.Fallbacks = append(in.Fallbacks, a)
		default:
			in.Primaries = append(in.Primaries, a)
		}
	}
	return in
}

// planTiers fills want with the addresses a tiered group wants for host,
// deciding each record type on its own, and notes each type's tier in p.
func planTiers(p *ZonePlan, g Group, host string, health Health, present map[netip.Addr]int, want map[netip.Addr]bool) {
	failOpen := false
	for _, typ := range []string{"A", "AAAA"} {
		in := g.tierInput(typ, health, present)
		if len(in.Primaries)+len(in.Backups)+len(in.Fallbacks) == 0 {
			continue
		}
		d := DecideTier(in)
		for _, a := range d.Want {
			want[a] = true
		}
		failOpen = failOpen || d.Tier == TierFailOpen || d.Tier == TierFailStatic
		p.Tiers = append(p.Tiers, HostTier{Name: host, Type: typ, Tier: d.Tier, PrimariesUp: d.PrimariesUp, Primaries: len(in.Primaries),
			MinPrimaryUp: d.Need, BackupsUp: d.BackupsUp, Backups: len(in.Backups), Fallbacks: len(in.Fallbacks)})
	}
	if failOpen {
		p.FailOpen = append(p.FailOpen, host)
	}
}
