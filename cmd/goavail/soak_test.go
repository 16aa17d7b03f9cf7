package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
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

// rssKiB reads this process's resident set size.
func rssKiB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

type usage struct {
	goroutines int
	heapMiB    float64
	rssMiB     float64
}

func measure() usage {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return usage{runtime.NumGoroutine(), float64(ms.HeapAlloc) / (1 << 20), float64(rssKiB()) / 1024}
}

// TestSoak runs the agent's pieces, wired as monitorCmd wires them, on
// 1,000 namespaced addresses behind 100 hostnames for GOAVAIL_SOAK_SECONDS
// (make soak: 600), while 20 of the addresses flap at random (their address
// is taken off the test host and put back). It reports goroutines, heap and
// RSS at the start and the end, and fails on any DNS change for an address
// that never flapped, or on growth that looks like a leak. Not run by make
// test.
func TestSoak(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("GOAVAIL_SOAK_SECONDS"))
	if secs <= 0 {
		t.Skip("GOAVAIL_SOAK_SECONDS is not set: the 10-minute soak runs with make soak, not make test")
	}
	lab := netlab.New(t, 51)
	host, addrs := lab.AddBulk(1000)
	emu := cfemu.New()
	defer emu.Close()
	emu.AddZone("example.com")
	var groups []dns.Group
	for i := 0; i < 100; i++ {
		g := dns.Group{Zone: "example.com", Hostnames: []string{fmt.Sprintf("h%03d.example.com", i)}, Addrs: addrs[i*10 : (i+1)*10], TTL: 60}
		for _, a := range g.Addrs {
			emu.Seed("example.com", cfemu.Record{Name: g.Hostnames[0], Type: "A", Content: a.String(), TTL: 60})
		}
		groups = append(groups, g)
	}
	flappers := map[netip.Addr]bool{}
	rng := rand.New(rand.NewPCG(7, 7))
	for len(flappers) < 20 {
		flappers[addrs[rng.IntN(len(addrs))]] = true
	}
	cf, err := dns.NewCloudflare(dns.CloudflareOptions{BaseURL: emu.BaseURL(), Credentials: dns.Credentials{Token: emu.Token}, BatchSize: 200, RequestTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	var mu sync.Mutex
	var uncalled []string
	applied := 0
	var rec *dns.Reconciler
	var clu *cluster.Cluster
	tr := monitor.NewTracker(addrs, monitor.Thresholds{Fall: 3, Rise: 3}, func(monitor.Transition) { clu.LocalChanged() })
	clu, err = cluster.New(cluster.Config{NodeName: "soak", ViewInterval: 2 * time.Second, Rules: cluster.Rules{StaleAfter: 10 * time.Second, IsolationThreshold: 0.9},
		Local: tr.Snapshot, OnChange: func(cluster.Decision) { rec.Kick() }, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	rec = dns.NewReconciler(dns.ReconcilerConfig{Provider: cf, Health: health(clu), Writer: clu.IsWriter, Log: log,
		Safety: dns.Safety{Damping: dns.Damping{HalfLife: 5 * time.Minute, Suppress: 2.5, Reuse: 0.75}},
		OnPass: func(r dns.PassReport) {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range r.Plans {
				if !p.Applied {
					continue
				}
				for _, c := range append(append([]dns.Record{}, p.Creates...), p.Deletes...) {
					applied++
					if a, err := netip.ParseAddr(c.Content); err != nil || !flappers[a] {
						uncalled = append(uncalled, c.String())
					}
				}
			}
		}})
	rec.SetGroups(groups, 30*time.Second)
	eng, err := monitor.NewEngine(monitor.EngineConfig{Interval: time.Second, Timeout: time.Second}, log, tr.Observe)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.SetTargets(addrs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{eng.Run, clu.Run, rec.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		up := 0
		for _, s := range tr.States() {
			if s == monitor.Up {
				up++
			}
		}
		if up == len(addrs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("warm-up: %d of %d up", up, len(addrs))
		}
	}
	start := measure()

	ip := func(op string, a netip.Addr) {
		if out, err := exec.Command("ip", "-n", host.NS, "addr", op, a.String()+"/32", "dev", "lo").CombinedOutput(); err != nil && op == "add" {
			t.Errorf("ip addr %s %s: %v %s", op, a, err, out)
		}
	}
	down := map[netip.Addr]bool{}
	list := make([]netip.Addr, 0, len(flappers))
	for a := range flappers {
		list = append(list, a)
	}
	flips := 0
	for end := time.Now().Add(time.Duration(secs) * time.Second); time.Now().Before(end); time.Sleep(time.Duration(500+rng.IntN(4000)) * time.Millisecond) {
		a := list[rng.IntN(len(list))]
		if down[a] {
			ip("add", a)
		} else {
			ip("del", a)
		}
		down[a] = !down[a]
		flips++
	}
	for a := range down {
		if down[a] {
			ip("add", a)
		}
	}
	end := measure()
	cancel()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("soak %ds, 1,000 targets, 20 flapping (%d flips): %d DNS changes applied, %d not called for", secs, flips, applied, len(uncalled))
	t.Logf("start: %d goroutines, heap %.1f MiB, RSS %.1f MiB", start.goroutines, start.heapMiB, start.rssMiB)
	t.Logf("end:   %d goroutines, heap %.1f MiB, RSS %.1f MiB", end.goroutines, end.heapMiB, end.rssMiB)
	if len(uncalled) > 0 {
		t.Errorf("DNS changes for addresses that never flapped: %v", uncalled)
	}
	if end.goroutines > start.goroutines+20 || end.heapMiB > 2*start.heapMiB+8 {
		t.Errorf("growth that looks like a leak: %+v -> %+v", start, end)
	}
	if applied == 0 {
		t.Error("the flapping addresses caused no DNS change at all")
	}
}
