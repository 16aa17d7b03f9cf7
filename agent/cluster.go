package agent

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/monitor"
)

// TestClockOffsetEnv (tests only) shifts the wall clock the cluster reads (its start
// time, the incarnation, and message timestamps) by a Go duration, e.g.
// "-10m". It is for tests only: the chaos suite restarts an agent with its
// clock behind, as after an NTP step. Leases use the monotonic clock and
// are not shifted.
const TestClockOffsetEnv = "GOAVAIL_TEST_CLOCK_OFFSET"

// newCluster builds the cluster (or, with no peers, the lone agent's
// agreement) from the config.
func newCluster(cfg *config.Config, keys [][]byte, local func() []monitor.Status, onChange func(cluster.Decision), getenv func(string) string, log *slog.Logger) (*cluster.Cluster, error) {
	m := cfg.Members
	for _, w := range m.Warnings() {
		log.Warn(w)
	}
	now := time.Now
	if s := getenv(TestClockOffsetEnv); s != "" {
		off, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("%s = %q: %w", TestClockOffsetEnv, s, err)
		}
		log.Warn("test-only clock offset in effect", "offset", off)
		now = func() time.Time { return time.Now().Add(off) }
	}
	return cluster.New(cluster.Config{
		NodeName: cfg.NodeName, BindAddr: m.BindAddr, AdvertiseAddr: m.LocalAddr, Port: m.MembersPort,
		Peers: m.Peers, Keys: keys, Fingerprint: cfg.Fingerprint(), Rules: rules(cfg),
		ViewInterval: m.ViewInterval.D(), Local: local, OnChange: onChange,
		IncarnationFile: incarnationFile(cfg, getenv), Now: now,
		Log: clusterLogger(log, len(m.Peers) == 0),
	})
}

// incarnationFile is where the cluster keeps its start counter: beside the
// state file (state_file, or systemd's $STATE_DIRECTORY), or nowhere.
func incarnationFile(cfg *config.Config, getenv func(string) string) string {
	path := cfg.StateFile
	if dir, _, _ := strings.Cut(getenv("STATE_DIRECTORY"), ":"); path == "" && dir != "" {
		path = filepath.Join(dir, "state.json")
	}
	if path == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(path), "incarnation")
}

// AgreedHealth turns the agreed states into what the planner reads: an address
// nobody has agreed on yet is absent, and its records stay as they are.
func AgreedHealth(clu *cluster.Cluster) func() dns.Health {
	return func() dns.Health {
		out := dns.Health{}
		for a, s := range clu.Decision().States {
			switch s {
			case monitor.Up:
				out[a] = true
			case monitor.Down:
				out[a] = false
			}
		}
		return out
	}
}
