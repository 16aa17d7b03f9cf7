package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Provider is where the records live. Records lists a zone's records of the
// given types; Apply creates and deletes records, idempotently enough that
// re-planning after a failure converges.
type Provider interface {
	Records(ctx context.Context, zone string, types []string) ([]Record, error)
	Apply(ctx context.Context, zone string, creates, deletes []Record) error
}

// ReconcilerConfig wires a Reconciler.
type ReconcilerConfig struct {
	// Provider is the DNS API. Nil means no credentials: plan as if every
	// configured record exists, and never write (dry-run only).
	Provider Provider
	// DryRun logs the changes a pass would make instead of making them.
	DryRun bool
	// Health returns what is known of each address right now.
	Health func() Health
	// Writer says whether this agent applies changes, and which agent
	// does. Nil means this one. An agent that is not the writer plans
	// every pass (so its status shows the plan) and logs, but never writes.
	Writer func() (bool, string)
	// Fence, if set, is asked before a zone is listed when this agent is
	// about to write, and again right before every batch request: an
	// error means this agent may no longer write, and nothing more is
	// sent; the listing and the requests run under the context the first
	// returns (which ends when the writer's lease does). See fence.go.
	Fence func(context.Context) (context.Context, context.CancelFunc, error)
	// Log receives one line per change and per failed pass.
	Log *slog.Logger
	// OnPass, if set, receives every pass's report. It must not block.
	OnPass func(PassReport)
	// Safety bounds churn: flap damping and a removal budget.
	Safety Safety
	// Memory remembers removed records so they are restored exactly. Nil:
	// one in this process only.
	Memory *Memory
	// Now is the clock; time.Now when nil. Clock, when set, wins.
	Now func() time.Time
	// Clock gives the time and the timers of Run; tests use a fake one.
	Clock Clock
	// BatchSize is the most changes in one batch request; the Provider's
	// own BatchSize() when it has one, else 200.
	BatchSize int
	// Verifier, if set, is told of every change made, to check that the
	// zone's nameservers answer with it. It must not block.
	Verifier Verifier
}

// Verifier watches applied changes reach the zone's nameservers.
type Verifier interface {
	Applied(zone string, creates, deletes []Record, at time.Time)
}

// Safety bounds how much DNS can change. The zero value bounds nothing.
type Safety struct {
	Damping Damping
	// MaxRemovals is the most records removed in any RemovalWindow, across
	// all zones; more wait for the window to slide. 0: no limit.
	MaxRemovals   int
	RemovalWindow time.Duration
}

// Backoff bounds for failed passes.
const (
	minBackoff     = 250 * time.Millisecond
	maxRetryAfter  = time.Hour
	passTimeoutMin = 30 * time.Second
	// stopGrace is how long a pass in progress may run on after a stop; it
	// is well inside the agent's 10 s shutdown bound.
	stopGrace = 5 * time.Second
)

// Reconciler makes the DNS records match the desired state: on every Kick
// (a transition) and every period, it lists each zone, plans and applies.
// It is level-triggered: a failed call, a restart or a hand edit is
// corrected on the next pass. After a failure it backs off, and after a 429
// it sends nothing until the Retry-After has passed.
type Reconciler struct {
	cfg  ReconcilerConfig
	kick chan struct{}

	mu        sync.Mutex
	groups    []Group
	period    time.Duration
	failures  int
	holdUntil time.Time
	paceUntil time.Time           // no pass before it: see maxPace
	groupsGen uint64              // grows at every SetGroups
	assumedAt uint64              // the groupsGen of assumedBy
	assumedBy map[string][]Record // dry-run without a provider: each zone's records as assumed (read only)
	logged    map[string]string   // zone -> last plan logged in dry-run
	failOpen  map[string]bool     // hostnames held by fail-open, last pass
	last      PassReport
	damper    *damper
	budget    budget
	quar      *quarantine
}

// PassReport is the outcome of one pass.
type PassReport struct {
	At       time.Time
	Duration time.Duration
	// Work is the part of Duration spent computing (health, damping,
	// plans) rather than waiting for the API; Run paces passes by it.
	Work time.Duration
	// Mode is how the plans were treated: ModeApplied, ModeDryRun or
	// ModeStandby (this agent is not the cluster's writer).
	Mode  string
	Plans []ZonePlan
	Err   error
}

// Pass modes.
const (
	ModeApplied = "applied"
	ModeDryRun  = "dry_run"
	ModeStandby = "standby"
)

// NewReconciler returns a Reconciler; call SetGroups before Run.
func NewReconciler(cfg ReconcilerConfig) *Reconciler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Clock == nil {
		cfg.Clock = wallClock{cfg.Now}
	}
	cfg.Now = cfg.Clock.Now
	if cfg.BatchSize < 1 {
		cfg.BatchSize = 200
		if b, ok := cfg.Provider.(interface{ BatchSize() int }); ok && b.BatchSize() > 0 {
			cfg.BatchSize = b.BatchSize()
		}
	}
	if cfg.Provider == nil {
		cfg.DryRun = true
	}
	r := &Reconciler{cfg: cfg, kick: make(chan struct{}, 1), period: time.Minute, logged: map[string]string{}, failOpen: map[string]bool{}}
	if r.cfg.Memory == nil {
		r.cfg.Memory, _ = LoadMemory("")
	}
	r.damper = newDamper(cfg.Safety.Damping)
	r.budget = budget{max: cfg.Safety.MaxRemovals, window: cfg.Safety.RemovalWindow}
	r.quar = newQuarantine()
	return r
}

// SetSafety changes the damping and removal limits; penalties and removals
// already counted are kept.
func (r *Reconciler) SetSafety(s Safety) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfg.Safety = s
	r.damper.cfg = s.Damping
	r.budget.max, r.budget.window = s.MaxRemovals, s.RemovalWindow
}

// SetGroups replaces the managed groups and the reconcile period, and asks
// for a pass. A change of the groups releases every quarantined change:
// the operator may have fixed what Cloudflare refused.
func (r *Reconciler) SetGroups(groups []Group, period time.Duration) {
	r.mu.Lock()
	changed := !slices.EqualFunc(r.groups, groups, sameGroup)
	r.groups, r.period = slices.Clone(groups), period
	r.groupsGen++
	n := 0
	if changed {
		n = r.quar.clearZone("")
	}
	r.mu.Unlock()
	if n > 0 {
		r.cfg.Log.Info("config changed: retrying the quarantined dns changes", "changes", n)
	}
	r.Kick()
}

func sameGroup(a, b Group) bool {
	return a.Zone == b.Zone && slices.Equal(a.Hostnames, b.Hostnames) && slices.Equal(a.Addrs, b.Addrs) &&
		a.TTL == b.TTL && a.Proxied == b.Proxied && a.Comment == b.Comment && a.FailStatic == b.FailStatic
}

// Quarantined returns every quarantined change, oldest first.
func (r *Reconciler) Quarantined() []Quarantined {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.quar.list("")
}

// Kick asks for a pass soon. It never blocks; kicks coalesce.
func (r *Reconciler) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Last returns the report of the latest pass.
func (r *Reconciler) Last() PassReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Run passes until ctx is done. Errors are logged and retried with backoff;
// Run itself returns only when ctx ends.
func (r *Reconciler) Run(ctx context.Context) error {
	timer := r.cfg.Clock.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C():
		case <-r.kick:
		}
		r.mu.Lock()
		wait := max(r.holdUntil.Sub(r.cfg.Now()), r.paceUntil.Sub(r.cfg.Now()))
		period := r.period
		r.mu.Unlock()
		if wait > 0 { // backing off, rate limited or paced: the timer ends the hold,
			timer.Reset(wait) // and a kick during it runs the pass then
			continue
		}
		// A pass is not cut short by a stop: it gets stopGrace to finish, so
		// a SIGTERM during an apply leaves the zone as planned, not halfway.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(passTimeoutMin, period))
		stopping := context.AfterFunc(ctx, func() {
			r.cfg.Log.Info("stopping: letting the DNS pass in progress finish", "grace", stopGrace)
			time.AfterFunc(stopGrace, cancel)
		})
		report := r.Pass(pctx)
		stopping()
		cancel()
		r.mu.Lock()
		r.paceUntil = r.cfg.Now().Add(min(report.Work, maxPace))
		r.mu.Unlock()
		if ctx.Err() != nil {
			return nil
		}
		next := period
		if report.Err != nil {
			next = r.backoff(report.Err)
			r.cfg.Log.Error("dns reconcile failed; will retry", "retry_in", next.Round(time.Millisecond), "err", report.Err)
		}
		timer.Reset(next)
	}
}

// maxPace bounds the pause after a pass: as long as the pass's own work
// (report.Work), so that passes kicked back to back (a mass event at
// 100,000 targets kicks one per agreement round) take at most half of a
// core and the garbage of one is collected before the next, yet a
// transition waits at most one pass's work more. Waiting for the API does
// not count: it costs no CPU, and the writer must not slow down for it.
const maxPace = time.Second

// Retry pacing after transient failures (5xx, timeouts, refused
// connections). Cloudflare allows 1,200 requests per 5 minutes per user,
// 4 a second, shared by every agent and tool on the token. A pass costs at
// most requestsPerZone requests per zone (list A, list AAAA, one batch);
// retrying no faster than retryShare requests a second leaves half the
// budget to everything else. So the longest wait between two tries is
// zones × requestsPerZone / retryShare: 1.5 s for one zone, which is also
// about the bound on the delay between the API recovering and the change
// landing. Waits start at minBackoff and double up to it, with jitter
// (each wait drawn from its upper half) so that agents spread apart.
const (
	requestsPerZone = 3
	retryShare      = 2.0 // requests per second
	maxRetryCap     = time.Minute
)

// retryCap is the longest wait between tries for a number of zones.
func retryCap(zones int) time.Duration {
	d := time.Duration(float64(max(zones, 1)*requestsPerZone) / retryShare * float64(time.Second))
	return min(max(d, time.Second), maxRetryCap)
}

// transientBackoff is the wait after the n-th failure in a row (n ≥ 1);
// rnd(k) returns a number in [0, k).
func transientBackoff(n, zones int, rnd func(int64) int64) time.Duration {
	limit := retryCap(zones)
	d := min(minBackoff<<min(n-1, 16), limit)
	return d - time.Duration(rnd(int64(d/2)+1))
}

// backoff records a failure and returns how long to hold all requests.
func (r *Reconciler) backoff(err error) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures++
	var d time.Duration
	var ra *RetryAfterError
	var perm *PermanentError
	switch {
	case errors.As(err, &ra):
		d = min(ra.Wait, maxRetryAfter) // exactly: no request before it, none long after
	case errors.As(err, &perm) && !transientIn(err):
		// The operator must act (credentials, a missing zone): no hold, so
		// the other zones keep up with transitions; retry each period.
		r.holdUntil = r.cfg.Now()
		return min(r.period, retryCap(len(zonesOf(r.groups)))*20)
	default:
		d = transientBackoff(r.failures, len(zonesOf(r.groups)), rand.Int64N)
	}
	r.holdUntil = r.cfg.Now().Add(d)
	return d
}

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
	var errs []error
	for _, zone := range zonesOf(groups) {
		p, err := r.passZone(ctx, zone, groups, gen, health, report.Mode, writer, &report.Work)
		report.Plans = append(report.Plans, p)
		if err != nil {
			errs = append(errs, err)
			var ra *RetryAfterError
			if errors.As(err, &ra) || ctx.Err() != nil {
				break
			}
		}
	}
	report.Err = errors.Join(errs...)
	report.Duration = r.cfg.Now().Sub(report.At)
	r.mu.Lock()
	if report.Err == nil {
		r.failures = 0
	}
	r.last = report
	r.mu.Unlock()
	if r.cfg.OnPass != nil {
		r.cfg.OnPass(report)
	}
	return report
}

// passZone plans one zone and applies the plan; work grows by the time it
// spends computing.
func (r *Reconciler) passZone(ctx context.Context, zone string, groups []Group, gen uint64, health Health, mode, writer string, work *time.Duration) (ZonePlan, error) {
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
	var actual []Record
	types := Types(zg)
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
		if actual, err = r.cfg.Provider.Records(ctx, zone, types); err != nil {
			return ZonePlan{Zone: zone}, err
		}
	}
	t := r.cfg.Now()
	p := Plan(zone, zg, health, actual)
	*work += r.cfg.Now().Sub(t)
	r.noteFailOpen(zone, zg, p.FailOpen)
	switch mode {
	case ModeDryRun:
		r.logPlan(p, "dry-run")
		return p, nil
	case ModeStandby:
		r.logPlan(p, "standby (writer "+writer+")")
		return p, nil
	}
	now := r.cfg.Now()
	r.mu.Lock()
	if n := r.quar.seen(zone, types, unmanaged(zg, actual)); n > 0 {
		r.cfg.Log.Info("the zone changed: retrying its quarantined dns changes", "zone", zone, "changes", n)
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
		return p, nil
	}
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
	// Restored records come back as they were (comment and tags; ttl and
	// proxied as configured now); removed ones are remembered first, so a
	// crash between the two loses nothing.
	p.Creates = r.cfg.Memory.Restore(zone, p.Creates)
	if err := r.cfg.Memory.Remember(zone, p.Deletes); err != nil {
		r.cfg.Log.Warn("could not save the state file; removed records are remembered until a restart only", "err", err)
	}
	for _, c := range p.Creates {
		r.logChange(zone, ActionCreate, c, "planned", nil)
	}
	for _, d := range p.Deletes {
		r.logChange(zone, ActionDelete, d, "planned", nil)
	}
	res, err := r.apply(ctx, zone, p.Creates, p.Deletes, actual)
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

// change is one record to create or delete.
type change struct {
	action string
	rec    Record
}

// applied is what apply made of a zone's changes.
type applied struct {
	created, deleted []Record
	failed           []FailedChange
	blocked          []Record
	fresh            []string  // keys of the changes newly quarantined
	at               time.Time // when the last successful batch was answered
}

// apply sends the changes in batches of at most BatchSize, creates first,
// so that if a later batch fails no hostname has fewer records than the
// plan leaves it. A batch the API refuses for what it contains (a
// RejectedError or StaleError) is split in two and each half sent, until
// the change to blame is alone: a refused change is quarantined, a stale
// one (the record already exists, or is already gone) counts as made, and
// every other change of the zone is applied in the same pass. Removals are
// charged to the budget before they are sent, and refunded only when the
// API definitely did not apply them. A transient error ends the zone's
// pass: the changes not yet made are returned as failed, with the error.
func (r *Reconciler) apply(ctx context.Context, zone string, creates, deletes, actual []Record) (applied, error) {
	var res applied
	left := serving(actual) // A/AAAA records of each name, as the batches go
	pending := map[string]int{}
	var all []change
	for _, c := range creates {
		all = append(all, change{ActionCreate, c})
		pending[c.Name]++
	}
	for _, d := range deletes {
		all = append(all, change{ActionDelete, d})
	}
	var queue [][]change
	for len(all) > 0 {
		n := min(len(all), r.cfg.BatchSize)
		queue, all = append(queue, all[:n]), all[n:]
	}
	for len(queue) > 0 {
		b := queue[0]
		queue = queue[1:]
		// Never send a removal that, with the restores that failed or were
		// quarantined so far, would leave its name empty.
		b = slices.DeleteFunc(b, func(c change) bool {
			if c.action != ActionDelete {
				return false
			}
			if left[c.rec.Name]+pending[c.rec.Name] > 1 {
				left[c.rec.Name]--
				return false
			}
			res.blocked = append(res.blocked, c.rec)
			r.logChange(zone, ActionDelete, c.rec, "blocked", errors.New("its name's restore was not made: removing it would leave the name with no record"))
			return true
		})
		if len(b) == 0 {
			continue
		}
		// The last check, before every batch, that this agent may still
		// write (fence.go).
		ids := deleteIDs(b)
		r.mu.Lock()
		r.budget.charge(r.cfg.Now(), ids)
		r.mu.Unlock()
		bctx, bcancel, err := r.fenceBatch(ctx)
		if err == nil {
			err = r.send(bctx, zone, b)
			defer bcancel()
			ctx = bctx // the next batch chains on this fence
		} else {
			r.refund(ids) // not sent
		}
		var rej *RejectedError
		var stale *StaleError
		switch {
		case err == nil:
			res.at = r.cfg.Now()
			for _, c := range b {
				r.made(zone, c, &res, pending, left, "applied", nil)
			}
			continue
		case errors.As(err, &rej) || errors.As(err, &stale):
			r.refund(ids)
			if len(b) > 1 {
				for _, c := range b { // the halves are guarded again
					if c.action == ActionDelete {
						left[c.rec.Name]++
					}
				}
				queue = append([][]change{b[:len(b)/2], b[len(b)/2:]}, queue...)
				continue
			}
			c := b[0]
			if stale != nil {
				res.at = r.cfg.Now()
				r.made(zone, c, &res, pending, left, "applied", fmt.Errorf("already in effect (code %d)", stale.Code))
				continue
			}
			r.undo(c, pending, left)
			r.mu.Lock()
			q, fresh := r.quar.add(r.cfg.Now(), zone, c.action, c.rec, rej.Code, rej.Message)
			r.mu.Unlock()
			if fresh {
				res.fresh = append(res.fresh, q.key())
			}
			if fresh {
				r.cfg.Log.Warn("dns change quarantined: Cloudflare refuses it; the zone's other changes go on, and it is retried slowly",
					"zone", zone, "action", c.action, "name", c.rec.Name, "type", c.rec.Type, "content", c.rec.Content,
					"result", "quarantined", "code", q.Code, "message", q.Message, "retry_at", q.NextTry.Round(time.Second))
			}
			continue
		}
		// Transient, or not about the changes: this zone waits for the
		// next pass (the Reconciler backs off).
		if Unsent(err) {
			r.refund(ids)
		}
		for _, bb := range append([][]change{b}, queue...) {
			for _, c := range bb {
				res.failed = append(res.failed, FailedChange{Action: c.action, Record: c.rec, Err: err.Error()})
				r.logChange(zone, c.action, c.rec, "failed", err)
			}
		}
		return res, err
	}
	return res, nil
}

// made records a change as made.
func (r *Reconciler) made(zone string, c change, res *applied, pending, left map[string]int, result string, note error) {
	if c.action == ActionCreate {
		res.created = append(res.created, c.rec)
		pending[c.rec.Name]--
		left[c.rec.Name]++
	} else {
		res.deleted = append(res.deleted, c.rec)
	}
	r.mu.Lock()
	r.quar.release(zone, c.action, c.rec)
	r.mu.Unlock()
	r.logChange(zone, c.action, c.rec, result, note)
}

// undo gives back what the removal guard counted for a change not made.
func (r *Reconciler) undo(c change, pending, left map[string]int) {
	if c.action == ActionCreate {
		pending[c.rec.Name]--
	} else {
		left[c.rec.Name]++
	}
}

func (r *Reconciler) refund(ids []string) {
	if len(ids) == 0 {
		return
	}
	r.mu.Lock()
	r.budget.refund(ids)
	r.mu.Unlock()
}

func deleteIDs(b []change) []string {
	var ids []string
	for _, c := range b {
		if c.action == ActionDelete {
			ids = append(ids, c.rec.ID)
		}
	}
	return ids
}

// send makes one batch request.
func (r *Reconciler) send(ctx context.Context, zone string, b []change) error {
	var cs, ds []Record
	for _, c := range b {
		if c.action == ActionCreate {
			cs = append(cs, c.rec)
		} else {
			ds = append(ds, c.rec)
		}
	}
	return r.cfg.Provider.Apply(ctx, zone, cs, ds)
}

// transientIn reports whether a joined error holds an error that is not
// permanent.
func transientIn(err error) bool {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var perm *PermanentError
		if !errors.As(e, &perm) {
			return true
		}
	}
	return false
}

// assumedRecords is assumed(zg) for zone, kept until the groups change
// (gen): a dry run without a provider plans against the same records at
// every pass, and making them anew was most of a pass's garbage at 100,000
// addresses.
func (r *Reconciler) assumedRecords(zone string, zg []Group, gen uint64) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.assumedAt != gen || r.assumedBy == nil {
		r.assumedAt, r.assumedBy = gen, map[string][]Record{}
	}
	recs, ok := r.assumedBy[zone]
	if !ok {
		recs = assumed(zg)
		r.assumedBy[zone] = recs
	}
	return recs
}

// assumed is the zone as the config describes it, for dry-run without
// credentials: every hostname has a record for every address.
func assumed(groups []Group) []Record {
	var out []Record
	for _, g := range groups {
		for _, h := range g.Hostnames {
			for _, a := range g.Addrs {
				out = append(out, Record{ID: "assumed", Name: h, Type: RecordType(a), Content: a.String(), TTL: g.TTL, Proxied: g.Proxied, Comment: g.Comment})
			}
		}
	}
	return out
}

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
			msg = "dns record deleted"
		}
		if err != nil {
			attrs = append(attrs, "note", err.Error())
		}
	case "failed":
		msg, level = "dns change failed; retrying", slog.LevelWarn
		attrs = append(attrs, "code", errorCode(err), "err", err)
	default:
		msg, level = "dns change "+result, slog.LevelWarn
		attrs = append(attrs, "reason", err)
	}
	r.cfg.Log.Log(context.Background(), level, msg, attrs...)
}

// errorCode is the Cloudflare error code, or the HTTP status, or "network"
// for an error with neither.
func errorCode(err error) string {
	var rej *RejectedError
	var stale *StaleError
	var na *nonAPIAnswer
	switch {
	case errors.As(err, &rej):
		return strconv.FormatInt(rej.Code, 10)
	case errors.As(err, &stale):
		return strconv.FormatInt(stale.Code, 10)
	case errors.As(err, &na):
		return "http_" + strconv.Itoa(na.status)
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
func (r *Reconciler) logPlan(p ZonePlan, mode string) {
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
	if p.Empty() {
		r.cfg.Log.Info(mode+": dns records match the desired state", "zone", p.Zone)
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

func zonesOf(groups []Group) []string {
	var out []string
	for _, g := range groups {
		if !slices.Contains(out, g.Zone) {
			out = append(out, g.Zone)
		}
	}
	slices.Sort(out)
	return out
}
