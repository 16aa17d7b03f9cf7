package agent

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/monitor"
	"github.com/goavail/goavail/notify"
)

// TestMetrics_PerTargetLimit: up to perTargetLimit targets every address
// has its series, goavail_agreed_up included; above it no series names an
// address, and goavail_agreed_targets counts what was agreed.
func TestMetrics_PerTargetLimit(t *testing.T) {
	for _, n := range []int{3, perTargetLimit + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var b strings.Builder
			b.WriteString("node_name = \"vm\"\n")
			for i := 0; i < n; i += 10 {
				fmt.Fprintf(&b, "[[Records]]\ndns_domain = \"example.com\"\nhostnames = [\"h%d\"]\nip_addresses = [", i)
				for j := i; j < min(i+10, n); j++ {
					if j > i {
						b.WriteString(", ")
					}
					fmt.Fprintf(&b, "\"198.19.%d.%d\"", j/250, j%250+1)
				}
				b.WriteString("]\n")
			}
			cfg, err := config.Parse(b.String())
			if err != nil {
				t.Fatal(err)
			}
			var up []monitor.Status
			for _, a := range cfg.Addrs() {
				up = append(up, monitor.Status{Addr: a, State: monitor.Up})
			}
			log, _ := NewLogger("error", "text", &lockedBuffer{})
			clu := runLoneCluster(t, cfg, up, log)
			for deadline := time.Now().Add(20 * time.Second); len(clu.Decision().States) < n; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("agreed on %d of %d targets", len(clu.Decision().States), n)
				}
			}
			tracker := monitor.NewHealth(nil, nil)
			targets, _ := checkTargets(cfg)
			tracker.SetTargets(targets, time.Now())
			fams, err := newMetrics(tracker, clu, notify.New(log), true, Build{Version: "dev", Revision: "unknown"}).reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			series := map[string]int{}
			var agreedUp float64
			for _, f := range fams {
				series[f.GetName()] += len(f.GetMetric())
				for _, m := range f.GetMetric() {
					for _, l := range m.GetLabel() {
						if l.GetName() == "address" && n > perTargetLimit {
							t.Fatalf("%s has a series per address above the limit", f.GetName())
						}
						if f.GetName() == "goavail_agreed_targets" && l.GetValue() == "up" {
							agreedUp = m.GetGauge().GetValue()
						}
					}
				}
			}
			if n <= perTargetLimit {
				if series["goavail_agreed_up"] != n || series["goavail_target_state"] != 3*n || series["goavail_agreed_targets"] != 0 {
					t.Errorf("series: agreed_up %d, target_state %d, agreed_targets %d; want %d, %d, 0",
						series["goavail_agreed_up"], series["goavail_target_state"], series["goavail_agreed_targets"], n, 3*n)
				}
			} else if agreedUp != float64(n) {
				t.Errorf("goavail_agreed_targets{state=\"up\"} = %v, want %d", agreedUp, n)
			}
		})
	}
}
