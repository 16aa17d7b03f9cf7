package agent

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/monitor"
)

// probes are the two probe engines (ICMP, and the Checker for TCP and
// HTTP(S)) feeding one Health, which combines each address's checks.
type probes struct {
	engine  *monitor.Engine // nil when no ICMP socket opened and no address needs one
	checker *monitor.Checker
	health  *monitor.Health
}

// checkTargets turns the config's checks into what the monitor runs: the
// checks of every address, and the non-ICMP jobs. Checks are shared by the
// addresses of a group, so one HTTP transport serves them all.
func checkTargets(cfg *config.Config) (map[netip.Addr]monitor.AddrChecks, []monitor.Job) {
	made := map[[2]int]*monitor.Check{} // by group and check index
	targets := map[netip.Addr]monitor.AddrChecks{}
	var jobs []monitor.Job
	for gi, g := range cfg.Groups {
		for _, a := range g.Addrs {
			if _, ok := targets[a]; ok {
				continue // the same checks in every group (config makes sure)
			}
			ac := monitor.AddrChecks{Match: monitor.MatchAll}
			if g.MatchAny {
				ac.Match = monitor.MatchAny
			}
			for ci, cc := range g.Checks {
				if cc.Addrs != nil && !contains(cc.Addrs, a) {
					continue
				}
				key := [2]int{gi, ci}
				c, ok := made[key]
				if !ok {
					c = monitorCheck(cc)
					made[key] = c
				}
				ac.Checks = append(ac.Checks, c)
				if c.Kind != monitor.KindICMP {
					jobs = append(jobs, monitor.Job{Addr: a, Check: c})
				}
			}
			targets[a] = ac
		}
	}
	return targets, jobs
}

func contains(list []netip.Addr, a netip.Addr) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

// monitorCheck converts one validated config check.
func monitorCheck(cc config.Check) *monitor.Check {
	c := &monitor.Check{Kind: cc.Type, Key: cc.Key(), Port: cc.Port, Interval: cc.Interval, Timeout: cc.Timeout,
		Thresholds: monitor.Thresholds{Fall: cc.Fall, Rise: cc.Rise}}
	if cc.Type == monitor.KindHTTP || cc.Type == monitor.KindHTTPS {
		o := monitor.HTTPOptions{Path: cc.Path, Method: cc.Method, Host: cc.Host, Headers: cc.Headers,
			BodyMustMatch: cc.BodyMustMatch, BodyMustNotMatch: cc.BodyMustNotMatch, FollowRedirects: cc.FollowRedirects,
			TLSVerify: cc.TLSVerify, MinDaysLeft: cc.TLSMinDaysLeft}
		for _, r := range cc.StatusCodes {
			o.StatusCodes = append(o.StatusCodes, [2]int{r.Lo, r.Hi})
		}
		if len(cc.TLSCAPEM) > 0 {
			o.RootCAs = x509.NewCertPool()
			o.RootCAs.AppendCertsFromPEM(cc.TLSCAPEM)
		}
		c.HTTP = o
	}
	return c
}

// apply points the engines at cfg's checks. The ICMP engine is asked
// first, since it may refuse (no IPv6 socket): then nothing changes.
func (p *probes) apply(cfg *config.Config) error {
	icmp := cfg.ICMPAddrs()
	switch {
	case p.engine != nil:
		if err := p.engine.SetTargets(icmp); err != nil {
			return err
		}
	case len(icmp) > 0:
		return fmt.Errorf("%d addresses have icmp checks, but no ICMP socket could be opened at start: restart goavail with CAP_NET_RAW (or a ping_group_range that includes its group) to check them", len(icmp))
	}
	targets, jobs := checkTargets(cfg)
	p.health.SetTargets(targets, time.Now())
	p.checker.SetJobs(jobs)
	return nil
}

// checkMetrics count probes of every check type, ICMP included, and time
// them in one histogram per type (never per target).
type checkMetrics struct {
	probes   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	warnings prometheus.Counter
	icmpOK   prometheus.Counter
	icmpFail prometheus.Counter
	icmpTime prometheus.Observer
}

func newCheckMetrics(reg *prometheus.Registry) *checkMetrics {
	m := &checkMetrics{
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goavail_check_probes_total",
			Help: "Probes of every check type (icmp, tcp, http, https) by result (ok, fail)."}, []string{"type", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "goavail_check_duration_seconds",
			Help: "Time one successful probe took, by check type (for icmp the round trip).", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"type"}),
		warnings: prometheus.NewCounter(prometheus.CounterOpts{Name: "goavail_check_warnings_total",
			Help: "Probes that passed with a warning (a certificate close to tls_min_days_left)."}),
	}
	m.icmpOK, m.icmpFail = m.probes.WithLabelValues(monitor.KindICMP, "ok"), m.probes.WithLabelValues(monitor.KindICMP, "fail")
	m.icmpTime = m.duration.WithLabelValues(monitor.KindICMP)
	reg.MustRegister(m.probes, m.duration, m.warnings)
	return m
}

func (m *checkMetrics) icmp(r monitor.Result) {
	if r.OK {
		m.icmpOK.Inc()
		m.icmpTime.Observe(r.RTT.Seconds())
	} else {
		m.icmpFail.Inc()
	}
}

func (m *checkMetrics) check(r monitor.CheckResult) {
	if r.Result.OK {
		m.probes.WithLabelValues(r.Check.Kind, "ok").Inc()
		m.duration.WithLabelValues(r.Check.Kind).Observe(r.Result.RTT.Seconds())
	} else {
		m.probes.WithLabelValues(r.Check.Kind, "fail").Inc()
	}
	if r.Warning != "" {
		m.warnings.Inc()
	}
}

// warner logs a probe's warning when it first appears and when its words
// change (the days left), not on every probe.
type warner struct {
	log  *slog.Logger
	mu   sync.Mutex
	last map[string]string
}

// attach adds the current warnings to the status document's checks.
func (w *warner) attach(doc StatusDoc) StatusDoc {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.last) == 0 {
		return doc
	}
	for i := range doc.Targets {
		for j := range doc.Targets[i].Checks {
			c := &doc.Targets[i].Checks[j]
			c.Warning = w.last[doc.Targets[i].Addr+" "+c.Check]
		}
	}
	return doc
}

func (w *warner) observe(r monitor.CheckResult) {
	k := r.Result.Addr.String() + " " + r.Check.Key
	w.mu.Lock()
	changed := w.last[k] != r.Warning
	if r.Warning == "" {
		delete(w.last, k)
	} else {
		w.last[k] = r.Warning
	}
	w.mu.Unlock()
	if changed && r.Warning != "" {
		w.log.Warn("check passes, but not for long", "addr", r.Result.Addr, "check", r.Check.Key, "warning", r.Warning)
	}
}

// logCheckTransition logs every change of one check's state, with why.
func logCheckTransition(log *slog.Logger) func(monitor.CheckTransition) {
	return func(t monitor.CheckTransition) {
		log.Info("check state changed", "addr", t.Addr, "check", t.Check, "from", t.From, "to", t.To, "reason", t.Evidence.LastError)
	}
}

// CheckDoc is one check of a target in /status.
type CheckDoc struct {
	Check  string        `json:"check"`
	Type   string        `json:"type"`
	State  string        `json:"state"`
	Since  time.Time     `json:"since,omitzero"`
	Took   time.Duration `json:"took_ns,omitempty"` // the latest successful probe
	Reason string        `json:"reason,omitempty"`
	// Warning: the check passes, but not for long (a certificate near
	// tls_min_days_left).
	Warning string `json:"warning,omitempty"`
}

// attachChecks adds each target's checks to the status document.
func attachChecks(doc *StatusDoc, h *monitor.Health) {
	by := map[string][]CheckDoc{}
	for _, c := range h.Checks() {
		d := CheckDoc{Check: c.Check, Type: c.Kind, State: c.State.String(), Since: c.Since, Reason: c.Evidence.LastError}
		if n := len(c.Evidence.RTTs); n > 0 {
			d.Took = c.Evidence.RTTs[n-1]
		}
		by[c.Addr.String()] = append(by[c.Addr.String()], d)
	}
	for i := range doc.Targets {
		doc.Targets[i].Checks = by[doc.Targets[i].Addr]
	}
}

// register exports the Checker's own counters.
func (p *probes) register(reg *prometheus.Registry) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "goavail_check_probes_late_total",
			Help: "Failed TCP/HTTP(S) probes not counted because they ended far past their timeout (the agent was paused or starved, not the target slow)."},
			func() float64 { return float64(p.checker.Late()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "goavail_check_probes_skipped_total",
			Help: "TCP/HTTP(S) probes skipped because the previous probe of the same check was still running (too many in flight)."},
			func() float64 { return float64(p.checker.Skipped()) }),
	)
}
