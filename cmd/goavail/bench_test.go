package main

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/cfemu"
	"github.com/goavail/goavail/internal/netlab"
	"github.com/goavail/goavail/monitor"
)

// BenchmarkDetectionOverhead wires engine, tracker, agreement, reconciler and the
// Cloudflare adapter as monitorCmd does, takes a real host down repeatedly
// (20 outages per b.N, at phases spread over the interval) and reports two
// figures, in milliseconds:
//
//   - overhead: batch request minus the moment the last of failure_threshold
//     lost probes timed out (first probe sent after the outage +
//     (fall-1)·interval + probe_timeout). This is what goavail adds; its
//     goal is p99 ≤ 150 ms.
//   - raw: batch request minus outage minus fall·interval, the figure the
//     issue names. It also holds the probe phase, the wait for the first
//     probe after the outage, which is uniform over [0, interval) by
//     construction and no implementation can remove.
//
// A probe schedule is periodic, so the first send after the outage is
// derived from the send time of the last answered probe.
func BenchmarkDetectionOverhead(b *testing.B) {
	const interval, timeout, fall = time.Second, time.Second, 3
	lab := netlab.New(b, 41)
	h, other := lab.AddHost(), lab.AddHost()
	emu := cfemu.New()
	defer emu.Close()
	emu.AddZone("example.com")
	cf, err := dns.NewCloudflare(dns.CloudflareOptions{BaseURL: emu.BaseURL(), Credentials: dns.Credentials{Token: emu.Token}, BatchSize: 200, RequestTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	addrs := []netip.Addr{h.V4, other.V4}
	var rec *dns.Reconciler
	var clu *cluster.Cluster
	tr := monitor.NewTracker(addrs, monitor.Thresholds{Fall: fall, Rise: 1}, func(monitor.Transition) { clu.LocalChanged() })
	clu, err = cluster.New(cluster.Config{NodeName: "bench", ViewInterval: time.Second, Rules: cluster.Rules{StaleAfter: 5 * time.Second},
		Local: tr.Snapshot, OnChange: func(cluster.Decision) { rec.Kick() }, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var lastOK monitor.Result // h's last answered probe
	var results []monitor.Result
	observe := func(r monitor.Result) {
		if r.Addr == h.V4 {
			mu.Lock()
			if r.OK {
				lastOK = r
			}
			results = append(results, r)
			mu.Unlock()
		}
		tr.Observe(r)
	}
	rec = dns.NewReconciler(dns.ReconcilerConfig{Provider: cf, Health: health(clu), Writer: clu.IsWriter, Log: slog.New(slog.DiscardHandler)})
	rec.SetGroups([]dns.Group{{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: addrs, TTL: 60}}, time.Hour)
	eng, err := monitor.NewEngine(monitor.EngineConfig{Interval: interval, Timeout: timeout}, slog.New(slog.DiscardHandler), observe)
	if err != nil {
		b.Fatal(err)
	}
	eng.SetTargets(addrs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx)
	go clu.Run(ctx)
	go rec.Run(ctx)

	batchAfter := func(t0 time.Time) time.Time {
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			for _, r := range emu.Requests() {
				if strings.HasSuffix(r.Path, "/batch") && r.At.After(t0) {
					return r.At
				}
			}
		}
		b.Fatalf("no batch request after %s: requests %+v, states %v, last pass %+v", t0, emu.Requests(), tr.States(), rec.Last())
		return time.Time{}
	}
	present := func(a netip.Addr) bool {
		for _, r := range emu.Records("example.com") {
			if r.Content == a.String() {
				return true
			}
		}
		return false
	}
	waitFor := func(cond func() bool) {
		for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("records never converged: %v; states %v; last pass %+v", emu.Records("example.com"), tr.States(), rec.Last())
			}
		}
	}
	var overheads, raws []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		waitFor(func() bool { return present(h.V4) && present(other.V4) })
		for j := 0; j < 20; j++ {
			for tr.States()[h.V4] != monitor.Up {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(time.Duration(j) * interval / 20) // vary the phase
			emu.ResetRequests()
			mu.Lock()
			results = results[:0]
			mu.Unlock()
			t0 := time.Now()
			h.IgnoreEcho(true)
			bt := batchAfter(t0)
			mu.Lock()
			send := lastOK.At.Add(-lastOK.RTT)
			for !send.After(t0) {
				send = send.Add(interval)
			}
			due := send.Add((fall-1)*interval + timeout)
			if bt.Before(due) { // fewer than fall probes lost since the outage: show them
				for _, r := range results {
					b.Logf("outage %d: probe ok=%v at t0%+v err=%q", j, r.OK, r.At.Sub(t0), r.Err)
				}
				b.Errorf("outage %d: batch at t0%+v, before the last lost probe was due at t0%+v", j, bt.Sub(t0), due.Sub(t0))
			}
			mu.Unlock()
			overheads = append(overheads, bt.Sub(due))
			raws = append(raws, bt.Sub(t0)-fall*interval)
			h.IgnoreEcho(false)
			waitFor(func() bool { return present(h.V4) })
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for _, s := range []struct {
		name string
		d    []time.Duration
	}{{"overhead", overheads}, {"raw", raws}} {
		slices.Sort(s.d)
		q := func(p float64) time.Duration { return s.d[int(p*float64(len(s.d)-1))] }
		b.ReportMetric(ms(s.d[0]), s.name+"-min-ms")
		b.ReportMetric(ms(q(0.5)), s.name+"-p50-ms")
		b.ReportMetric(ms(q(0.99)), s.name+"-p99-ms")
	}
}
