package agent

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/monitor"
	"github.com/goavail/goavail/notify"
)

// lockedBuffer is a log sink the cluster's goroutine and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// runLoneCluster runs the cluster of cfg (no peers) with local as this
// agent's view until the test ends, and asks for a first round.
func runLoneCluster(t *testing.T, cfg *config.Config, local []monitor.Status, log *slog.Logger) *cluster.Cluster {
	t.Helper()
	clu, err := newCluster(cfg, nil, func() []monitor.Status { return local }, nil, func(string) string { return "" }, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- clu.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	clu.LocalChanged()
	return clu
}

// TestLoneAgent_DescribesItselfOneWay: a lone agent that sees every target
// down abstains, and its log, /status and /metrics all say that no agent
// writes: no "writer=vm", no writer series, no "too few voting agents"
// with an empty abstaining list; the isolation warning says how many are
// down or failing.
func TestLoneAgent_DescribesItselfOneWay(t *testing.T) {
	cfg, err := config.Parse(`node_name = "vm"
[Cloudflare]
dns_domain = "example.com"
hostnames = ["www"]
ip_addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
`)
	if err != nil {
		t.Fatal(err)
	}
	var down []monitor.Status
	for _, a := range cfg.Addrs() {
		down = append(down, monitor.Status{Addr: a, State: monitor.Down})
	}
	logs := &lockedBuffer{}
	log, _ := NewLogger("info", "text", logs)
	clu := runLoneCluster(t, cfg, down, log)
	deadline := time.Now().Add(20 * time.Second)
	for !clu.Decision().LocalIsolated {
		if time.Now().After(deadline) {
			t.Fatalf("never isolated:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}

	tracker := monitor.NewHealth(nil, nil)
	targets, _ := checkTargets(cfg)
	tracker.SetTargets(targets, time.Now())
	doc := buildStatus("vm", "dev", true, tracker, clu, newTestReconciler(clu), map[netip.Addr]DrainEntry{})
	if doc.Writer != "none: this agent abstains (isolation guard)" || doc.IsWriter || !doc.Isolated {
		t.Errorf("/status: writer %q, is_writer %v, isolated %v", doc.Writer, doc.IsWriter, doc.Isolated)
	}
	m := newMetrics(tracker, clu, notify.New(log), true, Build{Version: "dev", Revision: "unknown"})
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range fams {
		seen[f.GetName()] = true
		switch f.GetName() {
		case "goavail_cluster_writer":
			t.Errorf("/metrics names a writer while none can write: %v", f.GetMetric())
		case "goavail_cluster_is_writer", "goavail_cluster_quorate":
			if v := f.GetMetric()[0].GetGauge().GetValue(); v != 0 {
				t.Errorf("%s = %v, want 0", f.GetName(), v)
			}
		case "goavail_cluster_isolated":
			if v := f.GetMetric()[0].GetGauge().GetValue(); v != 1 {
				t.Errorf("goavail_cluster_isolated = %v, want 1", v)
			}
		}
	}
	for _, name := range []string{"goavail_cluster_is_writer", "goavail_cluster_quorate", "goavail_cluster_isolated"} {
		if !seen[name] { // else the checks above passed by checking nothing
			t.Errorf("/metrics has no %s", name)
		}
	}
	l := logs.String()
	if strings.Contains(l, "writer=vm") || strings.Contains(l, "too few voting agents") {
		t.Errorf("the log still calls this agent the writer or blames missing voters:\n%s", l)
	}
	if !strings.Contains(l, "down or losing its latest probes, and abstains") || !strings.Contains(l, "down=3") || !strings.Contains(l, "watched=3") {
		t.Errorf("the isolation warning does not count:\n%s", l)
	}
}
