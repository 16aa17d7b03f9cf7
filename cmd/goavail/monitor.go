package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/crypto"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/monitor"
	"github.com/goavail/goavail/notify"
)

// shutdownBound is how long a stop may take before goavail gives up waiting.
const shutdownBound = 10 * time.Second

type monitorOptions struct {
	configPath          string
	dryRun              bool
	logLevel, logFormat string
	pprof               bool // serve /debug/pprof/ on http_listen
}

func validateCmd(path string, stdout io.Writer, getenv func(string) string) error {
	c, _, err := loadConfig(path, getenv)
	if err != nil {
		return &exitError{exitConfig, err}
	}
	fmt.Fprintf(stdout, "# %s is valid. The effective configuration (defaults filled in, secrets redacted):\n", path)
	warnings := c.Members.Warnings()
	if w := exposedWarning(c.HTTPListen); w != "" {
		warnings = append(warnings, w)
	}
	for _, w := range warnings {
		fmt.Fprintf(stdout, "# warning: %s\n", oneLine(w))
	}
	for _, n := range c.Notices {
		fmt.Fprintln(stdout, "# "+n)
	}
	fmt.Fprint(stdout, c.Effective())
	return nil
}

// loadConfig loads the file and resolves its cluster keys, reporting every
// problem of both at once.
func loadConfig(path string, getenv func(string) string) (*config.Config, [][]byte, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	if len(cfg.Members.CryptoKey) == 0 {
		return cfg, nil, nil
	}
	src := crypto.Source{
		LookupEnv:      func(n string) (string, bool) { v := getenv(n); return v, v != "" },
		ReadFile:       os.ReadFile,
		CredentialsDir: credentialsDir(getenv),
	}
	keys, err := crypto.ResolveKeys(cfg.Members.CryptoKey, src)
	if errors.Is(err, fs.ErrPermission) {
		return nil, nil, fmt.Errorf("config %s: Members.crypto_key: %w\n(the packaged unit runs as a dynamic user that cannot read root's files: "+
			"put the key in /etc/goavail/credentials/crypto_key and set crypto_key = \"cred:crypto_key\")", path, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: Members.crypto_key: %w", path, err)
	}
	return cfg, keys, nil
}

// loadMemory opens the state file that keeps removed records' exact
// attributes. Problems are reported and never stop the agent: it then
// restores records with the configured values.
func loadMemory(cfg *config.Config, getenv func(string) string, log *slog.Logger) *dns.Memory {
	path := stateFile(cfg, getenv)
	m, err := dns.LoadMemory(path)
	switch {
	case path == "":
		log.Info("no state_file: removed records' ttl, comment and tags are remembered until a restart only")
	case errors.Is(err, dns.ErrNoState):
		log.Info("state file starts empty", "path", path)
	case err != nil:
		log.Warn("state file unusable; records removed before this start will be restored with the configured ttl, proxied and comment", "path", path, "err", err)
	default:
		log.Info("state file loaded", "path", path, "remembered_records", m.Len())
	}
	return m
}

// stateFile is the state file's path: state_file, else state.json in
// systemd's $STATE_DIRECTORY, else "" (memory only).
func stateFile(cfg *config.Config, getenv func(string) string) string {
	path := cfg.StateFile
	if dir, _, _ := strings.Cut(getenv("STATE_DIRECTORY"), ":"); path == "" && dir != "" {
		path = filepath.Join(dir, "state.json")
	}
	return path
}

func safety(cfg *config.Config) dns.Safety {
	return dns.Safety{
		Damping:     dns.Damping{HalfLife: cfg.FlapHalfLife.D(), Suppress: cfg.FlapSuppress, Reuse: cfg.FlapReuse},
		MaxRemovals: cfg.MaxRemovals, RemovalWindow: cfg.RemovalWindow.D(),
	}
}

func rules(cfg *config.Config) cluster.Rules {
	m := cfg.Members
	return cluster.Rules{MinPeersAgree: m.MinPeersAgree, StaleAfter: m.ViewStaleAfter.D(), IsolationThreshold: m.IsolationThreshold,
		Reconfirm: cfg.FailureThreshold, FailOpenSets: failOpenSets(cfg)} // the release rule: cluster/release.go
}

func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l, ReplaceAttr: durationText}
	switch format {
	case "text":
		return slog.New(tidyHandler{next: slog.NewTextHandler(w, opts)}), nil
	case "json":
		return slog.New(tidyHandler{next: slog.NewJSONHandler(w, opts)}), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// durationText renders durations as text ("1.5s"), not nanoseconds, in
// JSON logs too.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

// credentials reads the API credentials from the environment: a token
// first, then the global key with its email, then the original goavail's
// CF_API_KEY and CF_API_EMAIL.
func credentials(getenv func(string) string) dns.Credentials {
	if t := getenv("CLOUDFLARE_API_TOKEN"); t != "" {
		return dns.Credentials{Token: t}
	}
	if b, err := readCredential(getenv, "cloudflare_api_token"); err == nil && len(strings.TrimSpace(string(b))) > 0 { // systemd LoadCredential=
		return dns.Credentials{Token: strings.TrimSpace(string(b))}
	}
	if k := getenv("CLOUDFLARE_API_KEY"); k != "" {
		return dns.Credentials{Key: k, Email: getenv("CLOUDFLARE_EMAIL")}
	}
	return dns.Credentials{Key: getenv("CF_API_KEY"), Email: getenv("CF_API_EMAIL")}
}

// dnsGroups converts the config's groups to the planner's.
func dnsGroups(c *config.Config) []dns.Group {
	out := make([]dns.Group, len(c.Groups))
	for i, g := range c.Groups {
		out[i] = dns.Group{Zone: g.Zone, Hostnames: g.Hostnames, Addrs: g.Addrs, TTL: g.TTL, Proxied: g.Proxied, Comment: g.Comment, FailStatic: g.FailStatic}
	}
	return out
}

// health turns the agreed states into what the planner reads: an address
// nobody has agreed on yet is absent, and its records stay as they are.
func health(clu *cluster.Cluster) func() dns.Health {
	return func() dns.Health {
		out := dns.Health{}
		for a, s := range clu.Decision().States {
			switch s {
			case monitor.Up:
				out[a] = true
			case monitor.Down:
				out[a] = false
			}
		}
		return out
	}
}

func monitorCmd(ctx context.Context, o monitorOptions, logw io.Writer, getenv func(string) string) error {
	log, err := newLogger(o.logLevel, o.logFormat, logw)
	if err != nil {
		return &exitError{exitConfig, err}
	}
	tuneGC(getenv)
	cfg, keys, err := loadConfig(o.configPath, getenv)
	if err != nil {
		return &exitError{exitConfig, err}
	}
	sinkList, err := sinks(cfg, getenv)
	if err != nil {
		return &exitError{exitConfig, err}
	}
	notifier := notify.New(log.With("component", "notify"), sinkList...)
	ev := newEvents(notifier, cfg.NodeName)

	var m *metrics
	provider, err := newProvider(cfg, o.dryRun, getenv, log, func(op string, err error, took time.Duration) { m.apiRequest(op, err, took.Seconds()) })
	if err != nil {
		return &exitError{exitConfig, err}
	}

	token, err := apiToken(getenv)
	if err != nil {
		return &exitError{exitConfig, err}
	}

	var rec *dns.Reconciler
	var clu *cluster.Cluster
	drn, err := newDrainer(cfg, getenv, ev, log)
	if err != nil {
		return &exitError{exitRuntime, err}
	}
	tracker := monitor.NewHealth(func(t monitor.Transition) {
		log.Info("target state changed", "addr", t.Addr, "from", t.From, "to", t.To, "reason", t.Evidence.LastError,
			"rtts", t.Evidence.RTTs, "lost", t.Evidence.Lost, "probes", t.Evidence.Probes)
		m.transition(t)
		ev.transition(t)
		clu.LocalChanged()
	}, logCheckTransition(log))
	local := func() []monitor.Status { return drn.filter(tracker.Snapshot()) }
	clu, err = newCluster(cfg, keys, local, func(d cluster.Decision) {
		ev.decision(d)
		rec.Kick()
	}, getenv, log)
	if err != nil {
		return &exitError{exitRuntime, err}
	}
	m = newMetrics(tracker, clu, notifier, o.dryRun)
	cm := newCheckMetrics(m.reg)
	m.reg.MustRegister(drainCollector{drn})
	memory := loadMemory(cfg, getenv, log)
	annexes := &annexBox{publish: clu.SetAnnex} // one annex, two parts: removed records (dns) and drains
	shared := newSharedMemory(clu, annexes, memory, log.With("component", "dns"))
	lost := newOutages()
	var dm *dnsMetrics
	propagation := newPropagation(cfg, provider, o.dryRun, lost, func() *dnsMetrics { return dm }, ev, log)
	rcfg := dns.ReconcilerConfig{Provider: provider, Memory: memory, DryRun: o.dryRun, Health: health(clu), Writer: clu.IsWriter, Fence: clu.Fence, Log: log, Safety: safety(cfg), OnPass: func(r dns.PassReport) {
		m.pass(r)
		ev.pass(r)
		shared.sync()
		if propagation != nil {
			propagation.Recheck()
		}
	}}
	if propagation != nil {
		rcfg.Verifier = propagation
	}
	rec = dns.NewReconciler(rcfg)
	dm = m.registerDNS(rec)
	drn.clu, drn.rec, drn.annex = clu, rec, annexes
	drn.setConfig(cfg) // the groups, with every drain applied

	// Reloads come from SIGHUP and POST /-/reload; one goroutine applies
	// them, so they never overlap. The HTTP listener opens before the ICMP
	// sockets, so a port in use stops the start at once.
	type reloadReq struct{ done chan error }
	reloads := make(chan reloadReq)
	warn := &warner{log: log, last: map[string]string{}}
	var web *httpServer
	if cfg.HTTPListen != "" {
		node := cfg.NodeName // node_name changes at a restart only
		status := func() statusDoc {
			doc := buildStatus(node, o.dryRun, tracker, clu, rec, drn.drained())
			addDNSStatus(&doc, rec, propagation)
			return warn.attach(doc)
		}
		ask := func() error {
			r := reloadReq{done: make(chan error, 1)}
			select {
			case reloads <- r:
				return <-r.done
			case <-ctx.Done():
				return errors.New("stopping")
			}
		}
		if web, err = newHTTPServer(cfg.HTTPListen, m, status, ask, log, drainRoutes(drn, token)); err != nil {
			return &exitError{exitRuntime, err}
		}
		if o.pprof {
			web.srv.Handler = withPprof(web.srv.Handler)
		}
		warnExposed(cfg.HTTPListen, token, log)
	}

	engine, err := monitor.NewEngine(monitor.EngineConfig{Interval: cfg.Interval.D(), Timeout: cfg.ProbeTimeout.D()}, log, func(r monitor.Result) {
		m.probe(r)
		cm.icmp(r)
		lost.observe(r) // the outage-to-DNS figure counts from ICMP losses
		tracker.Observe(monitor.KindICMP, r)
	})
	if err != nil {
		if len(cfg.ICMPAddrs()) > 0 {
			return &exitError{exitRuntime, err}
		}
		log.Warn("no ICMP socket: running without ICMP, as no address has an icmp check; a reload that adds one is refused", "err", err)
		engine = nil
	}
	checker := monitor.NewChecker(0, log, func(r monitor.CheckResult) {
		cm.check(r)
		warn.observe(r)
		tracker.Observe(r.Check.Key, r.Result)
	})
	probes := &probes{engine: engine, checker: checker, health: tracker}
	if err := probes.apply(cfg); err != nil {
		return &exitError{exitRuntime, err}
	}
	m.reg.MustRegister(engineCollector{engine, tracker})
	probes.register(m.reg)
	for _, n := range cfg.Notices {
		log.Info(n)
	}

	log.Info("goavail started", "version", version, "dry_run", o.dryRun, "targets", len(cfg.Addrs()), "groups", len(cfg.Groups),
		"interval", cfg.Interval.D(), "failure_threshold", cfg.FailureThreshold, "rise_threshold", cfg.RiseThreshold,
		"node", cfg.NodeName, "peers", len(cfg.Members.Peers), "min_peers_agree", cfg.Members.MinPeersAgree, "gossip", hostPort(clu.Addr()), "http", cfg.HTTPListen)

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	g, gctx := errgroup.WithContext(ctx)
	if engine != nil {
		g.Go(func() error { return engine.Run(gctx) })
	}
	g.Go(func() error { return checker.Run(gctx) })
	g.Go(func() error { return clu.Run(gctx) })
	g.Go(func() error { return rec.Run(gctx) })
	g.Go(func() error { return notifier.Run(gctx) })
	g.Go(func() error { return drn.sync(gctx, time.Second) })
	g.Go(func() error { return shared.run(gctx, cfg.Members.ViewInterval.D()) })
	if propagation != nil {
		g.Go(func() error { return propagation.Run(gctx) })
	}
	if web != nil {
		g.Go(func() error { return web.Run(gctx) })
	}
	g.Go(func() error {
		for {
			var done chan error
			select {
			case <-gctx.Done():
				return nil
			case <-hup:
			case r := <-reloads:
				done = r.done
			}
			next, err := reload(o.configPath, cfg, getenv, probes, clu, rec, drn, log)
			cfg = next
			if done != nil {
				done <- err
			}
		}
	})

	<-gctx.Done()
	log.Info("stopping")
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			return &exitError{exitRuntime, err}
		}
		log.Info("stopped")
		return nil
	case <-time.After(shutdownBound):
		return &exitError{exitRuntime, fmt.Errorf("did not stop within %s", shutdownBound)}
	}
}

// newProvider builds the Cloudflare adapter, or nil (plan against the
// config, never write) when dry-run has no credentials.
func newProvider(cfg *config.Config, dryRun bool, getenv func(string) string, log *slog.Logger, observe func(string, error, time.Duration)) (dns.Provider, error) {
	creds := credentials(getenv)
	if creds.Empty() {
		if !dryRun {
			return nil, errors.New("--no-dry-run needs Cloudflare credentials: set CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL)")
		}
		log.Warn("no Cloudflare credentials: dry-run plans as if every configured record exists")
		return nil, nil
	}
	base := cfg.Cloudflare.APIBaseURL
	if env := getenv("CLOUDFLARE_BASE_URL"); env != "" {
		base = env
	}
	cf, err := dns.NewCloudflare(dns.CloudflareOptions{BaseURL: base, Credentials: creds, BatchSize: cfg.Cloudflare.BatchSize, RequestTimeout: cfg.Cloudflare.RequestTimeout.D(),
		AccountID: cfg.Cloudflare.AccountID, Observe: observe})
	if err != nil {
		return nil, err
	}
	return cf, nil
}

// reload re-reads the config. An invalid file changes nothing and its
// errors are returned with the running config; a valid one is applied
// whole, keeping the state of addresses that stay watched.
func reload(path string, old *config.Config, getenv func(string) string, probes *probes, clu *cluster.Cluster, rec *dns.Reconciler, drn *drainer, log *slog.Logger) (*config.Config, error) {
	cfg, _, err := loadConfig(path, getenv)
	if err == nil {
		err = cfg.Members.ReloadErrors(old.Members) // peers in effect, not the new ones
	}
	if err == nil {
		err = probes.apply(cfg) // the ICMP engine checks before anything changes
	}
	if err != nil {
		log.Error("reload rejected; keeping the running configuration", "err", err)
		return old, err
	}
	if probes.engine != nil {
		probes.engine.SetConfig(monitor.EngineConfig{Interval: cfg.Interval.D(), Timeout: cfg.ProbeTimeout.D()})
	}
	clu.SetConfig(cfg.Fingerprint(), rules(cfg), cfg.Members.ViewInterval.D())
	rec.SetSafety(safety(cfg))
	drn.setConfig(cfg) // the groups, with every drain applied
	if !slices.Equal(cfg.Members.Peers, old.Members.Peers) || !slices.Equal(cfg.Members.CryptoKey, old.Members.CryptoKey) ||
		cfg.Members.LocalAddr != old.Members.LocalAddr || cfg.Members.BindAddr != old.Members.BindAddr ||
		cfg.Members.MembersPort != old.Members.MembersPort || cfg.NodeName != old.NodeName || cfg.HTTPListen != old.HTTPListen ||
		!reflect.DeepEqual(cfg.Hooks, old.Hooks) || !reflect.DeepEqual(cfg.Webhooks, old.Webhooks) {
		log.Warn("peers, crypto_key, local_addr, bind_addr, members_port, node_name, http_listen, Hooks and Webhooks take effect at the next restart")
	}
	if cfg.Cloudflare.APIBaseURL != old.Cloudflare.APIBaseURL || cfg.Cloudflare.BatchSize != old.Cloudflare.BatchSize || cfg.Cloudflare.RequestTimeout != old.Cloudflare.RequestTimeout ||
		cfg.Cloudflare.DNSChanges != old.Cloudflare.DNSChanges {
		log.Warn("api_base_url, batch_size, request_timeout, account_id and propagation_bound take effect at the next restart")
	}
	for _, n := range cfg.Notices {
		log.Info(n)
	}
	log.Info("configuration reloaded", "targets", len(cfg.Addrs()), "groups", len(cfg.Groups))
	return cfg, nil
}
