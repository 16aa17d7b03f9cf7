package dns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Pass lists every zone, plans and (unless dry-run) applies, once. A rate
// limit stops the pass at once; other errors skip to the next zone. The
// returned report's Err joins every zone's error.
func (r *Reconciler) Pass(ctx context.Context) PassReport {
	r.mu.Lock()
	groups, gen := r.groups, r.groupsGen
	r.mu.Unlock()
	report := PassReport{At: r.cfg.Now(), Mode: ModeApplied}
	raw := r.cfg.Health()
	r.mu.Lock()
	health, damped := r.damper.apply(report.At, raw)
	r.mu.Unlock()
	report.Work = r.cfg.Now().Sub(report.At)
	for _, e := range damped {
		if e.Suppressed {
			r.cfg.Log.Warn("flap damping: this address keeps going down; holding it out of DNS until it has been quiet", "addr", e.Addr, "penalty", fmt.Sprintf("%.2f", e.Penalty), "earliest_release", e.Until.Round(time.Second))
		} else {
			r.cfg.Log.Info("flap damping over: the address may return to DNS", "addr", e.Addr)
		}
	}
	writer := ""
	switch {
	case r.cfg.DryRun:
		report.Mode = ModeDryRun
	case r.cfg.Writer != nil:
		var me bool
		if me, writer = r.cfg.Writer(); !me {
			report.Mode = ModeStandby
		}
	}
	var errs, fresh []error
	for _, zone := range zonesOf(groups) {
		if held := r.heldZone(zone, report.At); held != nil {
			report.Plans = append(report.Plans, ZonePlan{Zone: zone})
			errs = append(errs, held)
			continue
		}
		p, err := r.passZone(ctx, zone, groups, gen, health, report.Mode, writer, &report.Work)
		report.Plans = append(report.Plans, p)
		if err != nil {
			errs = append(errs, err)
			fresh = append(fresh, err)
			r.holdIfPermanent(zone, err)
			var ra *RetryAfterError
			if errors.As(err, &ra) || ctx.Err() != nil {
				break
			}
		}
	}
	report.Err = errors.Join(errs...)
	report.fresh = errors.Join(fresh...)
	report.Duration = r.cfg.Now().Sub(report.At)
	r.mu.Lock()
	if report.Err == nil {
		r.failures, r.limited = 0, 0
		r.standbyUntil = time.Time{}
	}
	r.last = report
	r.mu.Unlock()
	if r.cfg.OnPass != nil {
		r.cfg.OnPass(report)
	}
	return report
}

// maxFenceRelists bounds how often one pass lists a zone again after the
// provider refused a write because the zone's fence moved; past it the
// zone waits for the next pass (which comes at once: see Run).
const maxFenceRelists = 2

// passZone plans one zone and applies the plan; work grows by the time it
// spends computing. A write the provider refused for a moved fence is never
// retried as planned: the zone is listed and planned again.
func (r *Reconciler) passZone(ctx context.Context, zone string, groups []Group, gen uint64, health Health, mode, writer string, work *time.Duration) (ZonePlan, error) {
	refused := 0
	for {
		p, err := r.passZoneOnce(ctx, zone, groups, gen, health, mode, writer, work)
		var moved *FenceMovedError
		if !errors.As(err, &moved) {
			p.FenceRefused = refused
			return p, err
		}
		refused++
		r.cfg.Log.Warn("dns write refused: the zone changed since it was listed; listing it again", "zone", zone, "err", moved.Err, "relists", refused)
		if refused > maxFenceRelists || ctx.Err() != nil {
			p.FenceRefused = refused
			return p, err
		}
	}
}

// passZoneOnce lists, plans and applies one zone once.
func (r *Reconciler) passZoneOnce(ctx context.Context, zone string, groups []Group, gen uint64, health Health, mode, writer string, work *time.Duration) (ZonePlan, error) {
	var zg []Group
	for _, g := range groups {
		if g.Zone == zone {
			zg = append(zg, g)
		}
	}
	// Fenced before the listing: see fence.go.
	fctx, fcancel, ferr := r.fenceZone(ctx, mode)
	defer fcancel()
	if ferr == nil {
		ctx = fctx
	}
	// The listing renews the fence while it lasts (listchain.go).
	lc := r.listUnderChain(ctx)
	defer lc.cancel()
	var actual []Record
	types := Types(zg)
	// The zone's fence is read before the records, so that any write after
	// the read moves it and refuses this pass's writes (zonefence.go).
	var zf *ZoneFence
	if fencer, ok := r.cfg.Provider.(Fencer); ok && mode == ModeApplied && ferr == nil && !testNoZoneFence() {
		f, err := fencer.ReadFence(lc.lctx, zone)
		if err != nil {
			return ZonePlan{Zone: zone}, lc.listErr(err)
		}
		zf = &f
	}
	if r.cfg.Provider == nil {
		t := r.cfg.Now()
		actual = r.assumedRecords(zone, zg, gen)
		*work += r.cfg.Now().Sub(t)
	} else {
		r.mu.Lock()
		if len(r.quar.list(zone)) > 0 {
			types = append(types, "CNAME") // so that removing a conflicting CNAME is seen
		}
		r.mu.Unlock()
		var err error
		if actual, err = r.cfg.Provider.Records(lc.lctx, zone, types); err != nil {
			return ZonePlan{Zone: zone}, lc.listErr(err)
		}
		r.noteDrift(zone, zg, actual)
	}
	ctx, lerr := lc.finish() // the latest link: plan and send under it
	if lerr != nil {
		return ZonePlan{Zone: zone}, lerr
	}
	t := r.cfg.Now()
	p := Plan(zone, zg, health, actual)
	// Restored records come back as they were (see Memory.Restore), in
	// the plan every mode logs and shows.
	p.Creates = r.cfg.Memory.Restore(zone, p.Creates)
	*work += r.cfg.Now().Sub(t)
	r.noteFailOpen(zone, zg, p.FailOpen)
	r.noteTiers(zone, p.Tiers, mode)
	switch mode {
	case ModeDryRun:
		fence := ""
		if f, ok := r.cfg.Provider.(Fencer); ok {
			fence = f.FenceName(zone)
		}
		r.logPlan(p, "dry-run", fence)
		return p, nil
	case ModeStandby:
		r.logPlan(p, "standby (writer "+writer+")", "")
		p.Listed = managedListed(zg, actual)
		return p, nil
	}
	if zf != nil {
		if p.Foreign = r.foreignFence(zone, *zf, p); p.Foreign != nil && p.Foreign.Holding && !p.Empty() {
			why := fmt.Sprintf("held: deployment %s wrote this zone (fence %s); this agent writes it from %s", p.Foreign.Deployment, zf.Name, p.Foreign.HoldUntil.Format(time.RFC3339))
			r.logPlan(p, why, "")
			for _, c := range p.Creates {
				p.Failed = append(p.Failed, FailedChange{Action: ActionCreate, Record: c, Err: why})
			}
			for _, d := range p.Deletes {
				p.Failed = append(p.Failed, FailedChange{Action: ActionDelete, Record: d, Err: why})
			}
			p.Creates, p.Deletes = nil, nil
			return p, nil
		}
	}
	r.holdUnpropagated(zone, &p, actual)
	now := r.cfg.Now()
	r.mu.Lock()
	if n := r.quar.seen(zone, types, unmanaged(zg, actual)); n > 0 {
		r.cfg.Log.Info("the records at their names changed: retrying quarantined dns changes", "zone", zone, "changes", n)
	}
	r.quar.prune(zone, p.Creates, p.Deletes)
	p.Creates = r.unquarantined(now, zone, ActionCreate, p.Creates)
	p.Deletes = r.unquarantined(now, zone, ActionDelete, p.Deletes)
	p.Deletes, p.Deferred = r.budget.split(now, p.Deletes)
	limit, window := r.budget.max, r.budget.window
	r.mu.Unlock()
	if len(p.Deferred) > 0 {
		r.cfg.Log.Warn("removal limit reached: some removals wait for the window to slide", "zone", zone, "deferred", len(p.Deferred),
			"max_removals", limit, "window", window)
	}
	if p.Empty() {
		p.Applied = true
		p.Quarantined = r.quarantinedIn(zone, nil)
		r.noteInStep(zone, len(p.Deferred)+len(p.Blocked)+len(p.Quarantined) == 0)
		return p, nil
	}
	r.noteInStep(zone, false)
	if r.cfg.Fence != nil {
		err := ferr
		if err == nil && ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ErrLeaseEnded, ctx.Err())
		}
		if err != nil {
			r.cfg.Log.Warn("batch not sent: this agent may no longer write DNS", "zone", zone, "err", err)
			for _, c := range p.Creates {
				p.Failed = append(p.Failed, FailedChange{Action: ActionCreate, Record: c, Err: "not sent: " + err.Error()})
			}
			for _, d := range p.Deletes {
				p.Failed = append(p.Failed, FailedChange{Action: ActionDelete, Record: d, Err: "not sent: " + err.Error()})
			}
			p.Creates, p.Deletes = nil, nil
			p.Quarantined = r.quarantinedIn(zone, nil)
			return p, nil
		}
	}
	// Removed records are remembered before they are removed, so a crash
	// between the two loses nothing.
	if err := r.cfg.Memory.Remember(zone, p.Deletes); err != nil {
		r.cfg.Log.Warn("could not save the state file; removed records are remembered until a restart only", "err", err)
	}
	for _, c := range p.Creates {
		r.logChange(zone, ActionCreate, c, "planned", nil)
	}
	for _, d := range p.Deletes {
		r.logChange(zone, ActionDelete, d, "planned", nil)
	}
	res, err := r.apply(ctx, zone, p.Creates, p.Deletes, actual, zf)
	p.Creates, p.Deletes, p.Failed = res.created, res.deleted, res.failed
	p.Blocked = append(p.Blocked, res.blocked...)
	p.Applied = len(p.Failed) == 0
	p.Quarantined = r.quarantinedIn(zone, res.fresh)
	if len(res.created) > 0 {
		if err := r.cfg.Memory.Forget(zone, res.created); err != nil {
			r.cfg.Log.Warn("could not save the state file", "err", err)
		}
	}
	if r.cfg.Verifier != nil && len(res.created)+len(res.deleted) > 0 {
		r.cfg.Verifier.Applied(zone, res.created, res.deleted, res.at)
	}
	if len(p.Waiting) > 0 && len(res.created) > 0 {
		// The replacements are made: the removals that waited for them
		// go in the next pass, at once rather than a period later (with
		// Propagated, that pass holds them again until the nameservers
		// serve the replacements, and a Kick on that comes then).
		r.Kick()
	}
	return p, err
}

// quarantinedIn lists the zone's quarantined changes, marking those
// quarantined this pass (by key) as new.
func (r *Reconciler) quarantinedIn(zone string, fresh []string) []Quarantined {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.quar.list(zone)
	for i := range out {
		out[i].New = slices.Contains(fresh, out[i].key())
	}
	return out
}

// managedListed are the listed records goavail manages: a managed hostname
// with one of its group's addresses, of that address's type.
func managedListed(groups []Group, actual []Record) []Record {
	byName := map[string][]int{}
	addrs := make([]map[netip.Addr]bool, len(groups))
	for i, g := range groups {
		for _, h := range g.Hostnames {
			byName[h] = append(byName[h], i)
		}
		addrs[i] = make(map[netip.Addr]bool, len(g.Addrs))
		for _, a := range g.Addrs {
			addrs[i][a] = true
		}
	}
	var out []Record
	for _, rec := range actual {
		c, err := netip.ParseAddr(rec.Content)
		if err != nil || RecordType(c.Unmap()) != rec.Type {
			continue
		}
		for _, i := range byName[rec.Name] {
			if addrs[i][c.Unmap()] {
				out = append(out, rec)
				break
			}
		}
	}
	return out
}

// unmanaged are the listed records goavail never changes: another name,
// another address or another type than its groups'.
func unmanaged(groups []Group, actual []Record) []Record {
	var out []Record
	for _, rec := range actual {
		mine := false
		for _, g := range groups {
			if slices.Contains(g.Hostnames, rec.Name) && slices.ContainsFunc(g.Addrs, func(a netip.Addr) bool {
				c, err := netip.ParseAddr(rec.Content)
				return err == nil && RecordType(a) == rec.Type && c.Unmap() == a
			}) {
				mine = true
				break
			}
		}
		if !mine {
			out = append(out, rec)
		}
	}
	return out
}

// unquarantined drops the changes the quarantine holds this pass. Called
// with r.mu held.
func (r *Reconciler) unquarantined(now time.Time, zone, action string, recs []Record) []Record {
	return slices.DeleteFunc(slices.Clone(recs), func(c Record) bool { return r.quar.holds(now, zone, action, c) })
}

// serving counts the A and AAAA records of each name.
func serving(actual []Record) map[string]int {
	out := map[string]int{}
	for _, r := range actual {
		if r.Type == "A" || r.Type == "AAAA" {
			out[r.Name]++
		}
	}
	return out
}
