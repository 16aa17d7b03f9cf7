package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/monitor"
	"github.com/goavail/goavail/notify"
)

// shutdownBound is how long a stop may take before goavail gives up waiting.
const shutdownBound = 10 * time.Second

// Options are what the command line decides about a running agent; the
// config file decides the rest.
type Options struct {
	// ConfigPath is the file a reload (SIGHUP, POST /-/reload) reads again.
	ConfigPath string
	// DryRun plans and logs every change and makes none.
	DryRun bool
	// Pprof serves Go's /debug/pprof/ on http_listen.
	Pprof bool
	// Build names this binary in the log, /status and goavail_build_info.
	Build Build
	// Getenv reads the environment (credentials, systemd's directories,
	// test hooks); os.Getenv in the binary.
	Getenv func(string) string
	// Log receives every log line.
	Log *slog.Logger
}

// Build is the version and the commit of the running binary.
type Build struct{ Version, Revision string }

// ConfigError is a problem with the configuration or the credentials
// (exit code 2), as opposed to a failure while running (exit code 1).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// reloadReq is one reload asked for; done receives its outcome.
type reloadReq struct{ done chan error }

// Agent is one running goavail: the probes, the cluster, the reconciler,
// drains, status, metrics, the HTTP server and notifications, built from
// one config and run until the context ends.
type Agent struct {
	o   Options
	log *slog.Logger

	node string // node_name: it changes at a restart only

	mu  sync.Mutex // guards cfg
	cfg *config.Config

	notifier    *notify.Notifier
	health      *monitor.Health
	clu         *cluster.Cluster
	rec         *dns.Reconciler
	drn         *drainer
	shared      *sharedMemory
	propagation *dns.PropagationChecker
	probes      *probes
	web         *httpServer
	warn        *warner
	hist        *agentHistory // the failover history (history.go)
	sparks      *sparks       // the status page's last hour per address (sparkline.go)
	reloads     chan reloadReq
}

// New builds an agent from cfg and the cluster keys LoadConfig resolved. It
// opens the sockets (HTTP first, so a port in use stops the start at once,
// then ICMP) but starts nothing: Run does. A *ConfigError means the
// configuration or the credentials are at fault.
func New(cfg *config.Config, keys [][]byte, o Options) (*Agent, error) {
	log := o.Log
	a := &Agent{o: o, log: log, cfg: cfg, node: cfg.NodeName, reloads: make(chan reloadReq), warn: &warner{log: log, last: map[string]string{}}}
	getenv := o.Getenv
	sinkList, err := sinks(cfg, getenv)
	if err != nil {
		return nil, &ConfigError{err}
	}
	a.notifier = notify.New(log.With("component", "notify"), sinkList...)
	ev := newEvents(a.notifier, cfg.NodeName)
	a.hist = openHistory(cfg, getenv, log)
	a.sparks = newSparks()
	ev.h = a.hist

	var m *metrics
	provider, err := newProvider(cfg, o.DryRun, getenv, log, func(op string, err error, took time.Duration) {
		if m != nil { // the check at start runs before the metrics exist
			m.apiRequest(op, err, took.Seconds())
		}
	}, a.hostnames, a.zoneProvider)
	if err != nil {
		return nil, &ConfigError{err}
	}
	if err := checkCredentials(context.Background(), provider, cfg, o.DryRun, log); err != nil {
		return nil, err
	}
	token, err := APIToken(getenv)
	if err != nil {
		return nil, &ConfigError{err}
	}

	drn, err := newDrainer(cfg, getenv, ev, log)
	if err != nil {
		return nil, err
	}
	a.drn = drn
	a.health = monitor.NewHealth(func(t monitor.Transition) {
		log.Log(context.Background(), transitionLevel(t.To), "target state changed", "addr", t.Addr, "from", t.From, "to", t.To, "reason", t.Evidence.LastError,
			"rtts", t.Evidence.RTTs, "lost", t.Evidence.Lost, "probes", t.Evidence.Probes)
		m.transition(t)
		ev.transition(t)
		a.clu.LocalChanged()
	}, logCheckTransition(log))
	local := func() []monitor.Status { return drn.filter(a.health.Snapshot()) }
	a.clu, err = newCluster(cfg, keys, local, func(d cluster.Decision) {
		ev.decision(d)
		a.hist.writerSeen(a.clu)
		a.rec.Kick()
	}, getenv, log)
	if err != nil {
		return nil, err
	}
	m = newMetrics(a.health, a.clu, a.notifier, o.DryRun, o.Build)
	cm := newCheckMetrics(m.reg)
	a.hist.register(m.reg)
	m.reg.MustRegister(drainCollector{drn})
	memory := loadMemory(cfg, getenv, log)
	annexes := &annexBox{publish: a.clu.SetAnnex} // one annex, two parts: removed records (dns) and drains
	a.shared = newSharedMemory(a.clu, annexes, memory, log.With("component", "dns"))
	lost := newOutages()
	var dm *dnsMetrics
	// The checker starts after a.rec is set (Run); it waits on its holds.
	a.propagation = newPropagation(cfg, provider, o.DryRun, lost, func() *dnsMetrics { return dm }, func() bool { return a.rec != nil && a.rec.RateLimited() }, ev, func() { a.rec.Kick() }, log)
	rcfg := dns.ReconcilerConfig{Provider: provider, Memory: memory, DryRun: o.DryRun, Health: AgreedHealth(a.clu), Writer: a.clu.IsWriter, Fence: a.clu.Fence, Stamp: a.stamp, Log: log, Safety: safety(cfg), OnPass: func(r dns.PassReport) {
		m.pass(r)
		a.hist.writerSeen(a.clu)
		ev.pass(r)
		a.shared.sync()
		if a.propagation != nil {
			a.propagation.Recheck()
		}
	}}
	if a.propagation != nil {
		rcfg.Verifier = a.propagation
		rcfg.Propagated = a.propagation.Propagated
	}
	rcfg.OnTier = ev.tier
	a.rec = dns.NewReconciler(rcfg)
	dm = m.registerDNS(a.rec)
	drn.clu, drn.rec, drn.annex = a.clu, a.rec, annexes
	drn.setConfig(cfg) // the groups, with every drain applied

	// Reloads come from SIGHUP and POST /-/reload; Run applies them on one
	// goroutine, so they never overlap. The HTTP listener opens before the
	// ICMP sockets, so a port in use stops the start at once.
	if cfg.HTTPListen != "" {
		admin := adminGuard(cfg.HTTPListen, token)
		if a.web, err = newHTTPServer(cfg.HTTPListen, m, a.Status, a.askReload, admin, log, drainRoutes(drn, token), historyRoutes(a.hist), pageRoutes(a)); err != nil {
			return nil, err
		}
		if o.Pprof {
			a.web.srv.Handler = withPprof(a.web.srv.Handler, admin)
		}
		warnExposed(cfg.HTTPListen, token, log)
	}

	engine, err := monitor.NewEngine(monitor.EngineConfig{Interval: cfg.Interval.D(), Timeout: cfg.ProbeTimeout.D()}, log, func(r monitor.Result) {
		m.probe(r)
		cm.icmp(r)
		lost.observe(r) // the outage-to-DNS figure counts from ICMP losses
		a.sparks.observe(r.Addr, r.OK, r.RTT, r.At)
		a.health.Observe(monitor.KindICMP, r)
	})
	if err != nil {
		if len(cfg.ICMPAddrs()) > 0 {
			return nil, err
		}
		log.Warn("no ICMP socket: running without ICMP, as no address has an icmp check; a reload that adds one is refused", "err", err)
		engine = nil
	} else if a.hist != nil {
		engine.OnPause(a.hist.paused) // the history records every pause the engine finds
	}
	checker := monitor.NewChecker(0, log, func(r monitor.CheckResult) {
		cm.check(r)
		a.warn.observe(r)
		a.sparks.observe(r.Result.Addr, r.Result.OK, r.Result.RTT, r.Result.At)
		a.health.Observe(r.Check.Key, r.Result)
	})
	a.probes = &probes{engine: engine, checker: checker, health: a.health}
	if err := a.probes.apply(cfg); err != nil {
		return nil, err
	}
	m.reg.MustRegister(engineCollector{engine, a.health})
	a.probes.register(m.reg)
	for _, n := range cfg.Notices {
		log.Info(n)
	}
	for _, w := range cfg.RecordWarnings() {
		log.Warn(w)
	}

	log.Info("goavail started", "version", o.Build.Version, "dry_run", o.DryRun, "targets", len(cfg.Addrs()), "groups", len(cfg.Groups),
		"interval", cfg.Interval.D(), "failure_threshold", cfg.FailureThreshold, "rise_threshold", cfg.RiseThreshold,
		"node", cfg.NodeName, "peers", len(cfg.Members.Peers), "min_peers_agree", cfg.Members.MinPeersAgree, "gossip", hostPort(a.clu.Addr()), "http", cfg.HTTPListen)
	return a, nil
}

// stamp is the zone fence's stamp of this agent's writes.
func (a *Agent) stamp() dns.FenceStamp {
	a.mu.Lock()
	deployment := a.cfg.Deployment
	a.mu.Unlock()
	return dns.FenceStamp{Deployment: deployment, Writer: a.node, Term: a.clu.Term()}
}

// Status is the document /status serves and goavail status renders.
func (a *Agent) Status() StatusDoc {
	doc := buildStatus(a.node, a.o.Build.Version, a.o.DryRun, a.health, a.clu, a.rec, a.drn.drained())
	addDNSStatus(&doc, a.rec, a.propagation)
	return a.warn.attach(doc)
}

// Reload re-reads the config file, as SIGHUP does. An invalid file changes
// nothing and its errors are returned; a valid one is applied whole. It
// waits for a running agent to apply it, and fails once the agent stops.
func (a *Agent) Reload(ctx context.Context) error {
	r := reloadReq{done: make(chan error, 1)}
	select {
	case a.reloads <- r:
		return <-r.done
	case <-ctx.Done():
		return errors.New("stopping")
	}
}

// askReload is Reload for the HTTP server, which has no context of its own.
func (a *Agent) askReload() error { return a.Reload(context.Background()) }

// Run runs every part until ctx ends, then stops them, waiting at most
// shutdownBound. A failure of any part stops the others.
func (a *Agent) Run(ctx context.Context) error {
	stopHistory := a.hist.run(ctx, a.o.Build.Version)
	defer stopHistory()
	g, gctx := errgroup.WithContext(ctx)
	if a.probes.engine != nil {
		g.Go(func() error { return a.probes.engine.Run(gctx) })
	}
	g.Go(func() error { return a.probes.checker.Run(gctx) })
	g.Go(func() error { return a.clu.Run(gctx) })
	g.Go(func() error { return a.rec.Run(gctx) })
	g.Go(func() error { return a.notifier.Run(gctx) })
	g.Go(func() error { return a.drn.sync(gctx, time.Second) })
	a.mu.Lock()
	viewInterval := a.cfg.Members.ViewInterval.D()
	a.mu.Unlock()
	g.Go(func() error { return a.shared.run(gctx, viewInterval) })
	if a.propagation != nil {
		g.Go(func() error { return a.propagation.Run(gctx) })
	}
	if a.web != nil {
		g.Go(func() error { return a.web.Run(gctx) })
	}
	g.Go(func() error {
		for {
			select {
			case <-gctx.Done():
				return nil
			case r := <-a.reloads:
				r.done <- a.reload()
			}
		}
	})

	<-gctx.Done()
	a.log.Info("stopping")
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		a.log.Info("stopped")
		return nil
	case <-time.After(shutdownBound):
		return fmt.Errorf("did not stop within %s", shutdownBound)
	}
}

// hostnames are zone's managed hostnames in the running config: what the
// RFC 2136 provider reads.
func (a *Agent) hostnames(zone string) []string {
	a.mu.Lock()
	cfg := a.cfg
	a.mu.Unlock()
	return cfg.Hostnames(zone)
}

// zoneProvider is the provider of zone in the running config.
func (a *Agent) zoneProvider(zone string) string {
	a.mu.Lock()
	cfg := a.cfg
	a.mu.Unlock()
	return cfg.ZoneProvider(zone)
}

// reload applies the config file again (see reloadConfig); it runs on Run's
// reload goroutine only.
func (a *Agent) reload() error {
	a.mu.Lock()
	old := a.cfg
	a.mu.Unlock()
	next, err := reloadConfig(a.o.ConfigPath, old, a.o.Getenv, a.probes, a.clu, a.rec, a.drn, a.log)
	a.mu.Lock()
	a.cfg = next
	a.mu.Unlock()
	a.hist.setConfig(next)
	watched := map[netip.Addr]bool{}
	for _, ad := range next.Addrs() {
		watched[ad] = true
	}
	a.sparks.forget(watched)
	a.hist.reloaded(err)
	return err
}
