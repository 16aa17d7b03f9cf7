package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
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
	// Fence, if set, is asked right before every Apply (the batch requests
	// of one zone): an error means this agent may no longer write, and the
	// batch is not sent; otherwise the requests run under the context it
	// returns (which ends when the writer's lease does).
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
	// Now is the clock; time.Now when nil.
	Now func() time.Time
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
	minBackoff     = time.Second
	maxBackoff     = time.Minute
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
	logged    map[string]string // zone -> last plan logged in dry-run
	failOpen  map[string]bool   // hostnames held by fail-open, last pass
	last      PassReport
	damper    *damper
	budget    budget
}

// PassReport is the outcome of one pass.
type PassReport struct {
	At       time.Time
	Duration time.Duration
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
	if cfg.Provider == nil {
		cfg.DryRun = true
	}
	r := &Reconciler{cfg: cfg, kick: make(chan struct{}, 1), period: time.Minute, logged: map[string]string{}, failOpen: map[string]bool{}}
	if r.cfg.Memory == nil {
		r.cfg.Memory, _ = LoadMemory("")
	}
	r.damper = newDamper(cfg.Safety.Damping)
	r.budget = budget{max: cfg.Safety.MaxRemovals, window: cfg.Safety.RemovalWindow}
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
// for a pass.
func (r *Reconciler) SetGroups(groups []Group, period time.Duration) {
	r.mu.Lock()
	r.groups, r.period = slices.Clone(groups), period
	r.mu.Unlock()
	r.Kick()
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
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-r.kick:
		}
		r.mu.Lock()
		wait := r.holdUntil.Sub(r.cfg.Now())
		period := r.period
		r.mu.Unlock()
		if wait > 0 { // backing off or rate limited: the timer ends the hold
			timer.Reset(wait)
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

// backoff records a failure and returns how long to hold all requests.
func (r *Reconciler) backoff(err error) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures++
	var d time.Duration
	var ra *RetryAfterError
	var stale *StaleError
	switch {
	case errors.As(err, &ra):
		d = min(max(ra.Wait, minBackoff), maxRetryAfter)
	case errors.As(err, &stale) && r.failures <= 2:
		d = 100 * time.Millisecond // the zone moved under the plan: re-list now
	default:
		d = min(minBackoff<<min(r.failures-1, 10), maxBackoff)
		d -= time.Duration(rand.Int64N(int64(d / 4))) // spread agents apart
	}
	r.holdUntil = r.cfg.Now().Add(d)
	return d
}

// Pass lists every zone, plans and (unless dry-run) applies, once. A rate
// limit stops the pass at once; other errors skip to the next zone. The
// returned report's Err joins every zone's error.
func (r *Reconciler) Pass(ctx context.Context) PassReport {
	r.mu.Lock()
	groups := r.groups
	r.mu.Unlock()
	report := PassReport{At: r.cfg.Now(), Mode: ModeApplied}
	raw := r.cfg.Health()
	r.mu.Lock()
	health, damped := r.damper.apply(report.At, raw)
	r.mu.Unlock()
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
		p, err := r.passZone(ctx, zone, groups, health, report.Mode, writer)
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

func (r *Reconciler) passZone(ctx context.Context, zone string, groups []Group, health Health, mode, writer string) (ZonePlan, error) {
	var zg []Group
	for _, g := range groups {
		if g.Zone == zone {
			zg = append(zg, g)
		}
	}
	var actual []Record
	if r.cfg.Provider == nil {
		actual = assumed(zg)
	} else {
		var err error
		if actual, err = r.cfg.Provider.Records(ctx, zone, Types(zg)); err != nil {
			return ZonePlan{Zone: zone}, err
		}
	}
	p := Plan(zone, zg, health, actual)
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
	if n := r.budget.allow(now, len(p.Deletes)); n < len(p.Deletes) {
		p.Deferred, p.Deletes = p.Deletes[n:], p.Deletes[:n]
	}
	limit, window := r.budget.max, r.budget.window
	r.mu.Unlock()
	if len(p.Deferred) > 0 {
		r.cfg.Log.Warn("removal limit reached: some removals wait for the window to slide", "zone", zone, "deferred", len(p.Deferred),
			"max_removals", limit, "window", window)
	}
	if p.Empty() {
		return p, nil
	}
	if r.cfg.Fence != nil {
		fctx, cancel, err := r.cfg.Fence(ctx)
		if err != nil {
			r.cfg.Log.Warn("batch not sent: this agent may no longer write DNS", "zone", zone, "err", err)
			return p, nil
		}
		defer cancel()
		ctx = fctx
	}
	// Restored records come back as they were; removed ones are remembered
	// first, so a crash between the two loses nothing.
	p.Creates = r.cfg.Memory.Restore(zone, p.Creates)
	if err := r.cfg.Memory.Remember(zone, p.Deletes); err != nil {
		r.cfg.Log.Warn("could not save the state file; removed records are remembered until a restart only", "err", err)
	}
	err := r.cfg.Provider.Apply(ctx, zone, p.Creates, p.Deletes)
	r.logChanges(p, err)
	p.Applied = err == nil
	if err == nil {
		r.mu.Lock()
		r.budget.spend(now, len(p.Deletes))
		r.mu.Unlock()
		if err := r.cfg.Memory.Forget(zone, p.Creates); err != nil {
			r.cfg.Log.Warn("could not save the state file", "err", err)
		}
	}
	return p, err
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

func (r *Reconciler) logChanges(p ZonePlan, err error) {
	result := "applied"
	if err != nil {
		result = "failed"
	}
	for _, c := range p.Creates {
		r.cfg.Log.Info("dns record created", "zone", p.Zone, "name", c.Name, "type", c.Type, "content", c.Content, "ttl", c.TTL, "proxied", c.Proxied, "result", result)
	}
	for _, d := range p.Deletes {
		r.cfg.Log.Info("dns record deleted", "zone", p.Zone, "name", d.Name, "type", d.Type, "content", d.Content, "id", d.ID, "result", result)
	}
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
					r.cfg.Log.Warn(policy+": every address of this hostname is down; keeping its records", "zone", zone, "name", h)
				} else {
					r.cfg.Log.Info(policy+" over: an address of this hostname is up again", "zone", zone, "name", h)
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
