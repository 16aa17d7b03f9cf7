package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
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

// soakMeasure reads the agent's live heap right after a collection: the
// HeapAlloc line of its /debug/pprof/heap with gc=1 (--pprof), read before
// anything else allocates. (Read from /metrics instead, the heap included
// the scrape's own garbage, tens of MiB at 10,000 targets with per-target
// series, and one run showed a false 23 -> 66 MiB "growth".) Goroutines
// and RSS come from /metrics. With GOAVAIL_SOAK_PROFILE (a directory) set,
// the heap profile is kept there as name.
func soakMeasure(tb testing.TB, a *scaleAgent, name string) soakUsage {
	res, err := http.Get("http://" + a.http + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		tb.Fatalf("collect the agent's garbage: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		tb.Fatalf("read the agent's heap profile: %v", err)
	}
	m := heapAllocLine.FindSubmatch(body)
	if m == nil {
		tb.Fatalf("no HeapAlloc line in the agent's heap profile:\n%.500s", body)
	}
	heap, _ := strconv.ParseFloat(string(m[1]), 64)
	if dir := os.Getenv("GOAVAIL_SOAK_PROFILE"); dir != "" {
		if err := fetch("http://"+a.http+"/debug/pprof/heap", filepath.Join(dir, name)); err != nil {
			tb.Errorf("heap profile: %v", err)
		}
	}
	mt := a.metrics(tb)
	return soakUsage{mt["go_goroutines"], heap / (1 << 20), mt["process_resident_memory_bytes"] / (1 << 20)}
}

// heapAllocLine is MemStats.HeapAlloc in a text heap profile.
var heapAllocLine = regexp.MustCompile(`(?m)^# HeapAlloc = (\d+)`)

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
	start := []soakUsage{soakMeasure(t, agents[0], "agent1-start.heap"), soakMeasure(t, agents[1], "agent2-start.heap")}

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
	end := []soakUsage{soakMeasure(t, agents[0], "agent1-end.heap"), soakMeasure(t, agents[1], "agent2-end.heap")}
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
