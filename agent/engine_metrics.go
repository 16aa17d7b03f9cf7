package agent

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/goavail/goavail/monitor"
)

var (
	descPauses  = prometheus.NewDesc("goavail_agent_pauses_total", "Times goavail found it had been stopped (SIGSTOP, a frozen VM, CPU starvation) for more than an interval; each is logged with its length.", nil, nil)
	descPaused  = prometheus.NewDesc("goavail_agent_paused_seconds_total", "Total length of those pauses.", nil, nil)
	descSkipped = prometheus.NewDesc("goavail_probe_slots_skipped_total", "Probes not sent because goavail reached their slot too late (after a pause, or starved of CPU); the target waits for its next slot.", nil, nil)
	descNotSent = prometheus.NewDesc("goavail_probes_not_sent_total", "Probes not sent because this host's send queue was full (ENOBUFS): no evidence either way; the target keeps its state and waits for its next slot.", nil, nil)
	descTargets = prometheus.NewDesc("goavail_targets", "Watched targets by the state this agent sees them in (up, down, unknown).", []string{"state"}, nil)
)

// perTargetLimit is the most targets for which goavail exports series per
// address (goavail_target_*, goavail_target_transitions_total): six series
// a target, 600,000 at 100,000 targets, would cost a scrape seconds of CPU
// and the agent hundreds of megabytes. Above it goavail_targets has the
// counts and /status the detail.
const perTargetLimit = 10000

func perTarget(t *monitor.Health) bool { return t.Len() <= perTargetLimit }

// engineCollector reads the probe engine's own counters and the targets'
// counts at scrape time.
type engineCollector struct {
	engine  *monitor.Engine
	tracker *monitor.Health
}

func (c engineCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPauses
	ch <- descPaused
	ch <- descSkipped
	ch <- descNotSent
	ch <- descTargets
}

func (c engineCollector) Collect(ch chan<- prometheus.Metric) {
	if c.engine != nil { // nil: no ICMP socket, and no icmp check needs one
		s := c.engine.Stats()
		ch <- prometheus.MustNewConstMetric(descPauses, prometheus.CounterValue, float64(s.Pauses))
		ch <- prometheus.MustNewConstMetric(descPaused, prometheus.CounterValue, s.Paused.Seconds())
		ch <- prometheus.MustNewConstMetric(descSkipped, prometheus.CounterValue, float64(s.SkippedSlots))
		ch <- prometheus.MustNewConstMetric(descNotSent, prometheus.CounterValue, float64(s.NotSent))
	}
	for st, n := range c.tracker.Counts() {
		ch <- prometheus.MustNewConstMetric(descTargets, prometheus.GaugeValue, float64(n), st.String())
	}
}
