package main

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/internal/cfemu"
	"github.com/goavail/goavail/internal/netlab"
)

// soakUsage is what an agent's own /metrics says about its resources.
type soakUsage struct{ goroutines, heapMiB, rssMiB float64 }

func (u soakUsage) String() string {
	return fmt.Sprintf("%.0f goroutines, heap %.1f MiB, RSS %.1f MiB", u.goroutines, u.heapMiB, u.rssMiB)
}

// soakMeasure collects the agent's garbage first (its /debug/pprof/heap
// with gc=1, --pprof), so that heaps compare.
func soakMeasure(tb testing.TB, a *scaleAgent) soakUsage {
	if err := fetch("http://"+a.http+"/debug/pprof/heap?gc=1", os.DevNull); err != nil {
		tb.Fatalf("collect the agent's garbage: %v", err)
	}
	m := a.metrics(tb)
	return soakUsage{m["go_goroutines"], m["go_memstats_heap_alloc_bytes"] / (1 << 20), m["process_resident_memory_bytes"] / (1 << 20)}
}

// TestSoak runs two real goavail processes as a cluster (min_peers_agree
// = 1, HTTP on, the writer against the API emulator) on
// GOAVAIL_SOAK_TARGETS namespaced addresses (10,000 by default), ten per
// hostname, for GOAVAIL_SOAK_SECONDS (make soak: 600), while 20 of the
// addresses flap at random. It reads goroutines, heap and RSS from each
// agent's /metrics after the warm-up and at the end, and fails on growth
// that looks like a leak, on any record of an address that never flapped
// being touched (its record keeps its id), and on any down transition of
// such an address. Not run by make test.
func TestSoak(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("GOAVAIL_SOAK_SECONDS"))
	if secs <= 0 {
		t.Skip("GOAVAIL_SOAK_SECONDS is not set: the 10-minute soak runs with make soak, not make test")
	}
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("GOAVAIL_SOAK_TARGETS")); err == nil && v > 0 {
		n = v
	}
	lab := netlab.New(t, 94)
	host, addrs := lab.AddBulk(n)
	emu := cfemu.New()
	defer emu.Close()
	emu.AddZone("example.com")
	ids := map[netip.Addr]string{}
	for i, a := range addrs {
		r := emu.Seed("example.com", cfemu.Record{Name: fmt.Sprintf("h%d.example.com", i/10), Type: "A", Content: a.String(), TTL: 60})
		ids[a] = r.ID
	}
	flappers := map[netip.Addr]bool{}
	rng := rand.New(rand.NewPCG(7, 7))
	for len(flappers) < 20 {
		flappers[addrs[rng.IntN(len(addrs))]] = true
	}

	bin := buildPlain(t)
	key := "soak-key-0123456789abcdef0123456"
	// Each agent gossips on its own loopback address, on the same port
	// (peers are addresses; the port is members_port).
	_, port, _ := strings.Cut(freeAddr(t), ":")
	var agents []*scaleAgent
	for i := range 2 {
		httpAddr := freeAddr(t)
		members := fmt.Sprintf("node_name = \"soak-%d\"\n\n[Members]\npeers = [\"127.0.0.%d\"]\nlocal_addr = \"127.0.0.%d\"\nmembers_port = %s\nmin_peers_agree = 1\ncrypto_key = %q\n",
			i+1, 2-i, i+1, port, key)
		cfg := strings.Replace(scaleConfig(httpAddr, addrs, time.Second, 800*time.Millisecond, 3, 3, ""), "reconcile_period = \"60s\"\n", "reconcile_period = \"30s\"\n"+members, 1)
		env := []string{"CLOUDFLARE_BASE_URL=" + emu.BaseURL(), "CLOUDFLARE_API_TOKEN=" + emu.Token}
		agents = append(agents, runScaleAgentEnv(t, bin, cfg, httpAddr, env, "--no-dry-run", "--pprof"))
	}
	for _, a := range agents {
		a.waitUp(t, n, 2*time.Minute)
	}
	time.Sleep(10 * time.Second) // the start's views and passes settle
	start := []soakUsage{soakMeasure(t, agents[0]), soakMeasure(t, agents[1])}

	down := map[netip.Addr]bool{}
	list := make([]netip.Addr, 0, len(flappers))
	for a := range flappers {
		list = append(list, a)
	}
	flips := 0
	for end := time.Now().Add(time.Duration(secs) * time.Second); time.Now().Before(end); time.Sleep(time.Duration(500+rng.IntN(4000)) * time.Millisecond) {
		a := list[rng.IntN(len(list))]
		host.BulkDown(a, !down[a])
		down[a] = !down[a]
		flips++
	}
	for a := range down {
		if down[a] {
			host.BulkDown(a, false)
		}
	}
	end := []soakUsage{soakMeasure(t, agents[0]), soakMeasure(t, agents[1])}
	for i, a := range agents { // what the cluster looked like, for a failure
		m := a.metrics(t)
		var dropped []string
		for k, v := range m {
			if strings.HasPrefix(k, "goavail_cluster_dropped_messages_total{") && v > 0 {
				dropped = append(dropped, fmt.Sprintf("%s=%v", k, v))
			}
		}
		t.Logf("agent %d: members %v, voters %v, quorate %v, writer %v, dropped %v", i+1, m["goavail_cluster_members"],
			m["goavail_cluster_voters"], m["goavail_cluster_quorate"], m["goavail_cluster_is_writer"], dropped)
	}
	for _, a := range agents {
		a.stop(t)
	}

	t.Logf("soak %ds, %d targets, 2 agents (cluster, HTTP on), 20 flapping (%d flips): %d write requests", secs, n, flips, writes(emu))
	for i := range agents {
		t.Logf("agent %d start: %s", i+1, start[i])
		t.Logf("agent %d end:   %s", i+1, end[i])
		if end[i].goroutines > start[i].goroutines+20 || end[i].heapMiB > 2*start[i].heapMiB+16 {
			t.Errorf("agent %d: growth that looks like a leak: %s -> %s", i+1, start[i], end[i])
		}
		_, downs := agents[i].logs.counts()
		for _, l := range downs {
			flapped := false
			for a := range flappers {
				flapped = flapped || strings.Contains(l, "addr="+a.String()+" ")
			}
			if !flapped {
				t.Errorf("agent %d: an address that never flapped went down: %s", i+1, l)
			}
		}
	}
	present := map[string]bool{}
	for _, r := range emu.Records("example.com") {
		present[r.ID] = true
	}
	for a, id := range ids {
		if !flappers[a] && !present[id] {
			t.Errorf("the record of %s, which never flapped, was changed", a)
		}
	}
	if writes(emu) == 0 {
		t.Errorf("the flapping addresses caused no DNS change at all; agent 1's log:\n%s\nagent 2's log:\n%s", agents[0].logs, agents[1].logs)
	}
}
