package dns

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

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
	// about to write, again while the listing runs, and again right
	// before every batch request: an error means this agent may no longer
	// write, and nothing more is sent. Each context it returns ends when
	// the writer's lease does; each is taken while the previous one runs,
	// and the listing lasts while that chain does. A context whose
	// timer may miss its lease's end (the lease clock counts through a
	// system suspend, the process's timers do not) must report it through
	// Err: the batch check reads Err last, right before the send. See
	// fence.go.
	Fence func(context.Context) (context.Context, context.CancelFunc, error)
	// Stamp says who writes, for a Provider that is a Fencer
	// (zonefence.go): every write replaces the zone's fence with it. Nil:
	// deployment "goavail", writer "goavail", term 0.
	Stamp func() FenceStamp
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
	// OnTier, if set, is told of every change of the tier serving a
	// hostname's records of one type (tiers.go), in every mode but
	// standby. It must not block.
	OnTier func(TierChange)
	// Propagated, if set, says whether the zone's nameservers answer with
	// a record (PropagationChecker.Propagated): a removal whose name keeps,
	// of its type, only records not yet served waits in ZonePlan.Waiting
	// (make before break). Nil: a removal waits only until its
	// replacements are listed (a later batch). Whoever sets it should Kick
	// the Reconciler when a creation is seen.
	Propagated func(zone string, r Record) bool
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
	limited   int       // 429s in a row, without a good pass between
	rateUntil time.Time // no request before it: a 429's hold (RateLimited)
	holdUntil time.Time
	// standbyUntil: a standby agent whose pass failed lists again no
	// sooner, unless it becomes the writer (see standby in pace.go).
	standbyUntil time.Time
	paceUntil    time.Time           // no pass before it: see maxPace
	groupsGen    uint64              // grows at every SetGroups
	assumedAt    uint64              // the groupsGen of assumedBy
	assumedBy    map[string][]Record // dry-run without a provider: each zone's records as assumed (read only)
	logged       map[string]string   // zone -> last plan logged in dry-run
	failOpen     map[string]bool     // hostnames held by fail-open, last pass
	tiers        map[string]Tier     // "name|type" -> the tier that served it, last pass
	last         PassReport
	damper       *damper
	budget       budget
	quar         *quarantine
	foreign      map[string]foreignSeen // zone -> another deployment's stamp, when first seen
	held         map[string]zoneHold    // zone -> its permanent error, not retried before until (permhold.go)
	drift        map[string]string      // zone -> the ttl/proxied differences last logged (drift.go)
	batchFor     func(zone string) int  // a zone's batch size, when the provider has one per zone (batchsize.go)
	batchCap     map[string]int         // zone -> the batch size its provider took, after one was refused as too large; r.mu
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
	// fresh joins the errors of the requests this pass made; Err also
	// carries the error of each zone held after a permanent one.
	fresh error
}

// FenceRefused is how many writes of the pass the provider refused because
// the zone's fence had moved since the listing (each was listed and planned
// again).
func (p PassReport) FenceRefused() int {
	n := 0
	for _, z := range p.Plans {
		n += z.FenceRefused
	}
	return n
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
	var batchFor func(string) int
	if cfg.BatchSize < 1 {
		batchFor = zoneBatchSize(cfg.Provider)
		cfg.BatchSize = 200
		if b, ok := cfg.Provider.(interface{ BatchSize() int }); ok && b.BatchSize() > 0 {
			cfg.BatchSize = b.BatchSize()
		}
	}
	if cfg.Provider == nil {
		cfg.DryRun = true
	}
	r := &Reconciler{cfg: cfg, kick: make(chan struct{}, 1), period: time.Minute, logged: map[string]string{}, failOpen: map[string]bool{}, tiers: map[string]Tier{}}
	if r.cfg.Memory == nil {
		r.cfg.Memory, _ = LoadMemory("")
	}
	r.damper = newDamper(cfg.Safety.Damping)
	r.budget = budget{max: cfg.Safety.MaxRemovals, window: cfg.Safety.RemovalWindow}
	r.quar = newQuarantine()
	r.foreign = map[string]foreignSeen{}
	r.held = map[string]zoneHold{}
	r.batchFor = batchFor
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
		clear(r.held) // the operator may have fixed the zone or the credentials
		r.pruneTiersLocked()
	}
	r.mu.Unlock()
	if n > 0 {
		r.cfg.Log.Info("config changed: retrying the quarantined dns changes", "changes", n)
	}
	r.Kick()
}

func sameGroup(a, b Group) bool {
	return a.Zone == b.Zone && slices.Equal(a.Hostnames, b.Hostnames) && slices.Equal(a.Addrs, b.Addrs) &&
		a.TTL == b.TTL && a.Proxied == b.Proxied && a.Comment == b.Comment && a.FailStatic == b.FailStatic &&
		slices.Equal(a.Backups, b.Backups) && slices.Equal(a.Fallbacks, b.Fallbacks) && a.MinPrimaryUp == b.MinPrimaryUp
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
		wait = max(wait, r.standbyHold())
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
		if report.fresh != nil { // a held zone's error was logged when it was new
			next = r.backoff(report.fresh)
			attrs := []any{"retry_in", next.Round(time.Millisecond), "err", report.fresh}
			if held := r.heldWaits(); held != "" && transientIn(report.fresh) {
				attrs = append(attrs, "refused_zones_retry_in", held) // a transient failure elsewhere: those zones wait longer
			}
			r.cfg.Log.Error("dns reconcile failed; will retry", attrs...)
		}
		if until, ok := r.nextRelease(); ok {
			next = max(min(next, until.Sub(r.cfg.Now())), 0)
		}
		timer.Reset(next)
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
