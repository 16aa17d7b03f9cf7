package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
