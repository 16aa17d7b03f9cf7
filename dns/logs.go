package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// logChange logs one change with its result: planned, applied, failed
// (with the error and its code), blocked or quarantined (logged where it
// is quarantined). Planned lines are at debug level: the applied or failed
// line follows at once.
func (r *Reconciler) logChange(zone, action string, c Record, result string, err error) {
	attrs := []any{"zone", zone, "action", action, "name", c.Name, "type", c.Type, "content", c.Content}
	if action == ActionCreate {
		attrs = append(attrs, "ttl", c.TTL, "proxied", c.Proxied)
	} else {
		attrs = append(attrs, "id", c.ID)
	}
	attrs = append(attrs, "result", result)
	var msg string
	level := slog.LevelInfo
	switch result {
	case "planned":
		msg, level = "dns change planned", slog.LevelDebug
	case "applied":
		msg = "dns record created"
		if action == ActionDelete {
			msg, level = "dns record deleted", slog.LevelWarn // capacity removed: what an on-call filter for WARN must see
		}
		if err != nil {
			attrs = append(attrs, "note", err.Error())
		}
	case "failed":
		msg, level = "dns change failed; retrying", slog.LevelWarn
		attrs = append(attrs, "code", ErrorCode(err), "err", err)
	default:
		msg, level = "dns change "+result, slog.LevelWarn
		attrs = append(attrs, "reason", err)
	}
	r.cfg.Log.Log(context.Background(), level, msg, attrs...)
}

// ErrorCode is the provider's error code, or the HTTP status, or "network"
// for an error with neither. A provider's error may say its own code with
// an ErrorCode() string method.
func ErrorCode(err error) string {
	var rej *RejectedError
	var stale *StaleError
	var na interface{ ErrorCode() string }
	switch {
	case errors.As(err, &rej):
		return strconv.FormatInt(rej.Code, 10)
	case errors.As(err, &stale):
		return strconv.FormatInt(stale.Code, 10)
	case errors.As(err, &na):
		return na.ErrorCode()
	}
	msg := err.Error()
	if i := strings.Index(msg, "HTTP "); i >= 0 && len(msg) >= i+8 {
		if _, err := strconv.Atoi(msg[i+5 : i+8]); err == nil {
			return "http_" + msg[i+5:i+8]
		}
	}
	return "network"
}

// logPlan logs each change a pass that does not write (dry-run, or an
// agent that is not the writer) would make, once per distinct plan, so a
// standing plan does not repeat every period.
//
// fence, when set, is the zone's fence record, which the write would also
// replace (zonefence.go).
func (r *Reconciler) logPlan(p ZonePlan, mode, fence string) {
	var b strings.Builder
	b.WriteString(mode + ";")
	for _, c := range p.Creates {
		fmt.Fprintf(&b, "+%s;", c)
	}
	for _, d := range p.Deletes {
		fmt.Fprintf(&b, "-%s;", d)
	}
	for _, d := range p.Waiting {
		fmt.Fprintf(&b, "~%s;", d)
	}
	for _, t := range p.Tiers {
		fmt.Fprintf(&b, "%s %s=%s;", t.Name, t.Type, t.Tier)
	}
	r.mu.Lock()
	same := r.logged[p.Zone] == b.String()
	r.logged[p.Zone] = b.String()
	r.mu.Unlock()
	if same {
		return
	}
	for _, c := range p.Creates {
		r.cfg.Log.Info(mode+": would create dns record", "zone", p.Zone, "name", c.Name, "type", c.Type, "content", c.Content, "ttl", c.TTL, "proxied", c.Proxied)
	}
	for _, d := range p.Deletes {
		r.cfg.Log.Info(mode+": would delete dns record", "zone", p.Zone, "name", d.Name, "type", d.Type, "content", d.Content)
	}
	if fence != "" && !p.Empty() {
		r.cfg.Log.Info(mode+": would replace the zone's fence record", "zone", p.Zone, "name", fence, "type", "TXT")
	}
	for _, d := range p.Waiting {
		r.cfg.Log.Info(mode+": would delete dns record once its replacement is created (a later pass)", "zone", p.Zone, "name", d.Name, "type", d.Type, "content", d.Content)
	}
	if p.Empty() {
		r.cfg.Log.Info(mode+": dns records match the desired state", "zone", p.Zone)
	}
}

// noteInStep logs, once after each change of the zone (and once at
// start), that a writing agent found the zone's records as they should
// be: the live counterpart of a dry run's "records match".
func (r *Reconciler) noteInStep(zone string, inStep bool) {
	const mark = "applied: in step"
	r.mu.Lock()
	logged := r.logged[zone] == mark
	if inStep {
		r.logged[zone] = mark
	} else {
		r.logged[zone] = ""
	}
	r.mu.Unlock()
	if inStep && !logged {
		r.cfg.Log.Info("dns records match the desired state", "zone", zone)
	}
}

// noteFailOpen logs when a hostname enters or leaves fail-open.
func (r *Reconciler) noteFailOpen(zone string, groups []Group, hosts []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range groups {
		for _, h := range g.Hostnames {
			now := slices.Contains(hosts, h)
			if now != r.failOpen[h] {
				policy := "fail-open"
				if g.FailStatic {
					policy = "fail-static"
				}
				if now {
					r.cfg.Log.Warn(policy+": every address of this hostname of one type (A or AAAA) is down; keeping its records of that type", "zone", zone, "name", h)
				} else {
					r.cfg.Log.Info(policy+" over: an address of each type of this hostname is up again", "zone", zone, "name", h)
				}
				r.failOpen[h] = now
			}
		}
	}
}

// Evidence says why the tier serves, in words.
func (t HostTier) Evidence() string {
	s := fmt.Sprintf("%d of %d primaries up (min_primary_up %d)", t.PrimariesUp, t.Primaries, t.MinPrimaryUp)
	if t.Backups > 0 {
		s += fmt.Sprintf(", %d of %d backups up", t.BackupsUp, t.Backups)
	}
	if t.Fallbacks > 0 {
		s += fmt.Sprintf(", %d fallbacks", t.Fallbacks)
	}
	return s
}

// TierChange is a change of the tier serving one hostname's records of one
// type, with the evidence (HostTier's counts).
type TierChange struct {
	Zone string
	From Tier   // "" on the first pass
	Mode string // ModeApplied or ModeDryRun
	HostTier
}

// noteTiers logs each change of tier since the last pass (the first pass:
// each tier other than primary) and tells OnTier, except in standby, so
// that the writer alone notifies.
func (r *Reconciler) noteTiers(zone string, tiers []HostTier, mode string) {
	var changes []TierChange
	r.mu.Lock()
	for _, t := range tiers {
		k := t.Name + "|" + t.Type
		from, seen := r.tiers[k]
		r.tiers[k] = t.Tier
		if from == t.Tier || (!seen && t.Tier == TierPrimary) {
			continue
		}
		changes = append(changes, TierChange{Zone: zone, From: from, Mode: mode, HostTier: t})
	}
	r.mu.Unlock()
	for _, c := range changes {
		verb := "serving"
		if mode == ModeDryRun {
			verb = "dry-run: would serve"
		} else if mode == ModeStandby {
			verb = "standby: the writer serves"
		}
		r.cfg.Log.Warn(verb+" "+c.Name+" "+c.Type+" from the "+string(c.Tier)+" tier", "zone", zone, "name", c.Name, "type", c.Type,
			"from", c.From, "tier", c.Tier, "primaries_up", c.PrimariesUp, "primaries", c.Primaries, "min_primary_up", c.MinPrimaryUp,
			"backups_up", c.BackupsUp, "backups", c.Backups, "fallbacks", c.Fallbacks)
		if r.cfg.OnTier != nil && mode != ModeStandby {
			r.cfg.OnTier(c)
		}
	}
}

// pruneTiersLocked forgets the tiers of hostnames no longer in a tiered
// group (a reload), so that the metric does not keep them; r.mu held.
func (r *Reconciler) pruneTiersLocked() {
	keep := map[string]bool{}
	for _, g := range r.groups {
		if g.Tiered() {
			for _, h := range g.Hostnames {
				keep[h] = true
			}
		}
	}
	maps.DeleteFunc(r.tiers, func(k string, _ Tier) bool {
		name, _, _ := strings.Cut(k, "|")
		return !keep[name]
	})
}

// Tiers returns the tier serving each hostname and type of the groups with
// backup or fallback addresses, as of the last pass, by "name|type".
func (r *Reconciler) Tiers() map[string]Tier {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.tiers)
}
