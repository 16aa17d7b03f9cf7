package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/goavail/goavail/monitor"
)

var (
	descPauses  = prometheus.NewDesc("goavail_agent_pauses_total", "Times goavail found it had been stopped (SIGSTOP, a frozen VM, CPU starvation) for more than an interval; each is logged with its length.", nil, nil)
	descPaused  = prometheus.NewDesc("goavail_agent_paused_seconds_total", "Total length of those pauses.", nil, nil)
	descSkipped = prometheus.NewDesc("goavail_probe_slots_skipped_total", "Probes not sent because goavail reached their slot too late (after a pause, or starved of CPU); the target waits for its next slot.", nil, nil)
)

// engineCollector reads the probe engine's own counters at scrape time.
type engineCollector struct{ engine *monitor.Engine }

func (c engineCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPauses
	ch <- descPaused
	ch <- descSkipped
}

func (c engineCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.engine.Stats()
	ch <- prometheus.MustNewConstMetric(descPauses, prometheus.CounterValue, float64(s.Pauses))
	ch <- prometheus.MustNewConstMetric(descPaused, prometheus.CounterValue, s.Paused.Seconds())
	ch <- prometheus.MustNewConstMetric(descSkipped, prometheus.CounterValue, float64(s.SkippedSlots))
}
