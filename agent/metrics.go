package agent

import (
	"errors"
	"runtime"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/monitor"
	"github.com/goavail/goavail/notify"
)

// metrics are goavail's Prometheus metrics, on a registry of their own.
// Counters are fed by hooks on the probe, transition, API and pass paths;
// states are read from the tracker and the cluster at scrape time.
type metrics struct {
	reg     *prometheus.Registry
	tracker *monitor.Health // its size decides whether per-target series are kept
	probes  *prometheus.CounterVec
	// The per-probe counters, bound once: probe runs thousands of times a
	// second and must not hash label values each time.
	probeOK, probeLost, probeErr prometheus.Counter
	rtt                          prometheus.Histogram
	transitions                  *prometheus.CounterVec
	apiRequests                  *prometheus.CounterVec
	apiDuration                  *prometheus.HistogramVec
	changes                      *prometheus.CounterVec
	passes                       *prometheus.CounterVec
	passDuration                 prometheus.Histogram
	lastSuccess                  prometheus.Gauge
	fenceRefused                 *prometheus.CounterVec
	foreign                      *prometheus.GaugeVec
	insync                       *prometheus.HistogramVec
}

func newMetrics(tracker *monitor.Health, clu *cluster.Cluster, notifier *notify.Notifier, dryRun bool, build Build) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(), tracker: tracker,
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goavail_probes_total",
			Help: "ICMP echo probes by result: ok (answered), lost (timed out) or error (could not be sent)."}, []string{"result"}),
		rtt: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "goavail_probe_rtt_seconds",
			Help: "Round-trip time of answered probes, all targets.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goavail_target_transitions_total",
			Help: "State changes of a target as this agent sees it."}, []string{"address", "to"}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goavail_dns_api_requests_total",
			Help: "DNS provider API requests (Cloudflare calls, RFC 2136 queries and UPDATEs, Route 53 calls) by operation and result (ok, rate_limited, rejected, stale, error)."}, []string{"operation", "result"}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "goavail_dns_api_request_duration_seconds",
			Help: "DNS provider API request latency.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 11)}, []string{"operation"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goavail_dns_changes_total",
			Help: "DNS record changes by zone, action (create, delete) and mode: applied, dry_run (would have been made) or standby (planned; another agent writes)."},
			[]string{"zone", "action", "mode"}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goavail_reconcile_passes_total",
			Help: "Reconcile passes by result (ok, error)."}, []string{"result"}),
		passDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "goavail_reconcile_duration_seconds",
			Help: "Time one reconcile pass took (list, plan, apply).", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "goavail_reconcile_last_success_timestamp_seconds",
			Help: "When a reconcile pass last succeeded (Unix time)."}),
		fenceRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "goavail_dns_fence_refused_total",
			Help: "Writes the DNS provider refused because the zone changed since it was listed (its fence moved); each was listed and planned again."}, []string{"zone"}),
		insync: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "goavail_dns_provider_insync_seconds",
			Help:    "Time from a change batch's answer to the provider saying every one of its nameservers has it (Route 53's GetChange INSYNC), by result (insync, or error: it never said so).",
			Buckets: []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600}}, []string{"result"}),
		foreign: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "goavail_dns_foreign_fence",
			Help: "1 while a zone's fence was last written by another goavail deployment (config key deployment), by zone and that deployment."}, []string{"zone", "deployment"}),
	}
	m.probeOK, m.probeLost, m.probeErr = m.probes.WithLabelValues("ok"), m.probes.WithLabelValues("lost"), m.probes.WithLabelValues("error")
	m.reg.MustRegister(m.probes, m.rtt, m.transitions, m.apiRequests, m.apiDuration, m.changes, m.passes, m.passDuration, m.lastSuccess, m.fenceRefused, m.foreign, m.insync,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&stateCollector{tracker: tracker, clu: clu, notifier: notifier, dryRun: dryRun, build: build})
	return m
}

func (m *metrics) probe(r monitor.Result) {
	switch {
	case r.OK:
		m.probeOK.Inc()
		m.rtt.Observe(r.RTT.Seconds())
	case r.Err != "":
		m.probeErr.Inc()
	default:
		m.probeLost.Inc()
	}
}

func (m *metrics) transition(t monitor.Transition) {
	if perTarget(m.tracker) {
		m.transitions.WithLabelValues(t.Addr.String(), t.To.String()).Inc()
	}
}

func (m *metrics) apiRequest(op string, err error, took float64) {
	if op == "insync" { // not a request: a batch's change reported in sync (Route 53)
		result := "insync"
		if err != nil {
			result = "error"
		}
		m.insync.WithLabelValues(result).Observe(took)
		return
	}
	m.apiRequests.WithLabelValues(op, apiResult(err)).Inc()
	m.apiDuration.WithLabelValues(op).Observe(took)
}

func apiResult(err error) string {
	var ra *dns.RetryAfterError
	var perm *dns.PermanentError
	var rej *dns.RejectedError
	var stale *dns.StaleError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ra):
		return "rate_limited"
	case errors.As(err, &perm), errors.As(err, &rej):
		return "rejected"
	case errors.As(err, &stale):
		return "stale"
	}
	return "error"
}

func (m *metrics) pass(r dns.PassReport) {
	m.passDuration.Observe(r.Duration.Seconds())
	if r.Err != nil {
		m.passes.WithLabelValues("error").Inc()
	} else {
		m.passes.WithLabelValues("ok").Inc()
		m.lastSuccess.Set(float64(r.At.Add(r.Duration).UnixNano()) / 1e9)
	}
	m.foreign.Reset()
	for _, p := range r.Plans {
		if p.FenceRefused > 0 {
			m.fenceRefused.WithLabelValues(p.Zone).Add(float64(p.FenceRefused))
		}
		if p.Foreign != nil {
			m.foreign.WithLabelValues(p.Zone, p.Foreign.Deployment).Set(1)
		}
		// In an applied pass Creates and Deletes are what was made, even
		// when other changes failed.
		if n := len(p.Creates); n > 0 {
			m.changes.WithLabelValues(p.Zone, "create", r.Mode).Add(float64(n))
		}
		if n := len(p.Deletes); n > 0 {
			m.changes.WithLabelValues(p.Zone, "delete", r.Mode).Add(float64(n))
		}
	}
}

// stateCollector reads the current states at scrape time.
type stateCollector struct {
	tracker  *monitor.Health
	clu      *cluster.Cluster
	notifier *notify.Notifier
	dryRun   bool
	build    Build
}

var (
	descState  = prometheus.NewDesc("goavail_target_state", "1 for the state this agent sees a target in (up, down, unknown).", []string{"address", "state"}, nil)
	descUp     = prometheus.NewDesc("goavail_target_up", "1 if this agent sees the target up, 0 if down; absent while unknown.", []string{"address"}, nil)
	descRTT    = prometheus.NewDesc("goavail_target_rtt_seconds", "Latest round-trip time of the target.", []string{"address"}, nil)
	descLoss   = prometheus.NewDesc("goavail_target_loss_ratio", "Lost probes over the last 64 to the target.", []string{"address"}, nil)
	descAgree  = prometheus.NewDesc("goavail_agreed_up", "1 if the cluster agreed the target is up, 0 if down; absent until agreed. DNS follows this.", []string{"address"}, nil)
	descAgreed = prometheus.NewDesc("goavail_agreed_targets", "Above 10,000 targets, in place of goavail_agreed_up: how many targets the cluster agreed are up, and down.", []string{"state"}, nil)
	descMemb   = prometheus.NewDesc("goavail_cluster_members", "Live cluster members, this agent included.", nil, nil)
	descVote   = prometheus.NewDesc("goavail_cluster_voters", "Agents whose views count now, this one included.", nil, nil)
	descQuor   = prometheus.NewDesc("goavail_cluster_quorate", "1 if enough agents vote to change DNS (min_peers_agree + 1).", nil, nil)
	descWrite  = prometheus.NewDesc("goavail_cluster_writer", "1 for the agent that writes DNS, as this agent sees it; absent while no agent can write (no quorum).", []string{"node"}, nil)
	descIsW    = prometheus.NewDesc("goavail_cluster_is_writer", "1 if this agent writes DNS.", nil, nil)
	descConf   = prometheus.NewDesc("goavail_cluster_name_conflicts", "Node names two agents use at once (1 per name; local=\"true\" for this agent's own, which then neither votes nor writes).", []string{"node_name", "local"}, nil)
	descTerm   = prometheus.NewDesc("goavail_cluster_writer_term", "The highest writer-lease term this agent knows; it grows with each hand-over.", nil, nil)
	descIsol   = prometheus.NewDesc("goavail_cluster_isolated", "1 if this agent abstains because it sees nearly every target down.", nil, nil)
	descViews  = prometheus.NewDesc("goavail_cluster_view_messages_total", "View messages sent to peers, by transport: udp (one packet, small deltas) or tcp (a stream: whole views, big deltas, and every message to a peer whose echo lagged).", []string{"transport"}, nil)
	descDrop   = prometheus.NewDesc("goavail_cluster_dropped_messages_total", "Peer messages dropped, by reason.", []string{"reason"}, nil)
	descNDrop  = prometheus.NewDesc("goavail_notifications_dropped_total", "Notifications dropped because a hook's or webhook's queue was full.", nil, nil)
	descNFail  = prometheus.NewDesc("goavail_notifications_failed_total", "Notifications that failed for good (hook error or timeout, webhook retries spent).", nil, nil)
	descDry    = prometheus.NewDesc("goavail_dry_run", "1 if goavail only logs the changes it would make.", nil, nil)
	descBuild  = prometheus.NewDesc("goavail_build_info", "Always 1; the labels name the build.", []string{"version", "revision", "goversion"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descUp, descRTT, descLoss, descAgree, descAgreed, descMemb, descVote, descQuor, descWrite, descIsW, descConf, descTerm, descIsol, descViews, descDrop, descNDrop, descNFail, descDry, descBuild} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	bit := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	var snap []monitor.Status // above perTargetLimit, goavail_targets has the counts
	per := perTarget(c.tracker)
	if per {
		snap = c.tracker.Snapshot()
	}
	for _, s := range snap {
		a := s.Addr.String()
		for _, st := range []monitor.State{monitor.Up, monitor.Down, monitor.Unknown} {
			gauge(descState, bit(s.State == st), a, st.String())
		}
		if s.State != monitor.Unknown {
			gauge(descUp, bit(s.State == monitor.Up), a)
		}
		if n := len(s.Evidence.RTTs); n > 0 {
			gauge(descRTT, s.Evidence.RTTs[n-1].Seconds(), a)
		}
		gauge(descLoss, s.Evidence.Loss(), a)
	}
	d := c.clu.Decision()
	if per {
		for addr, st := range d.States {
			if st != monitor.Unknown {
				gauge(descAgree, bit(st == monitor.Up), addr.String())
			}
		}
	} else { // above perTargetLimit: counts (this series alone was 100,000 a scrape)
		n := map[monitor.State]int{monitor.Up: 0, monitor.Down: 0}
		for _, st := range d.States {
			if st != monitor.Unknown {
				n[st]++
			}
		}
		for st, k := range n {
			gauge(descAgreed, float64(k), st.String())
		}
	}
	isWriter, writer := c.clu.IsWriter()
	gauge(descMemb, float64(len(c.clu.Members())))
	gauge(descVote, float64(len(d.Voters)))
	gauge(descQuor, bit(d.Quorate))
	if !strings.HasPrefix(writer, "none") {
		gauge(descWrite, 1, writer)
	}
	for _, k := range c.clu.Conflicts() {
		gauge(descConf, 1, k.Name, strconv.FormatBool(k.Local))
	}
	gauge(descTerm, float64(c.clu.Term()))
	gauge(descIsW, bit(isWriter))
	gauge(descIsol, bit(d.LocalIsolated))
	udp, tcp := c.clu.SentViews()
	ch <- prometheus.MustNewConstMetric(descViews, prometheus.CounterValue, float64(udp), "udp")
	ch <- prometheus.MustNewConstMetric(descViews, prometheus.CounterValue, float64(tcp), "tcp")
	for reason, n := range c.clu.Dropped() {
		ch <- prometheus.MustNewConstMetric(descDrop, prometheus.CounterValue, float64(n), reason)
	}
	ch <- prometheus.MustNewConstMetric(descNDrop, prometheus.CounterValue, float64(c.notifier.Dropped()))
	ch <- prometheus.MustNewConstMetric(descNFail, prometheus.CounterValue, float64(c.notifier.Failed()))
	gauge(descDry, bit(c.dryRun))
	gauge(descBuild, 1, c.build.Version, c.build.Revision, runtime.Version())
}
