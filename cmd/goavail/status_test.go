package main

import (
	"bytes"
	"flag"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/goavail/goavail/agent"
	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/monitor"
	"github.com/goavail/goavail/notify"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestRenderStatus_Golden renders a fixed status document, as goavail
// status prints it, and compares it with testdata/status.golden
// (go test -run RenderStatus ./cmd/goavail -args -update rewrites it).
func TestRenderStatus_Golden(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	doc := agent.StatusDoc{
		Node: "fra-1", Version: "v1.0.0", Members: []string{"fra-1", "nyc-1", "sin-1"}, Writer: "fra-1", IsWriter: true, Quorate: true,
		Voters: []string{"fra-1", "nyc-1", "sin-1"},
		Targets: []agent.TargetDoc{
			{Addr: "192.0.2.10", State: "up", Since: at, Agreed: "up", RTT: 1234 * time.Microsecond, Loss: 0,
				Peers: map[string]string{"nyc-1": "up", "sin-1": "up"}},
			{Addr: "198.51.100.20", State: "down", Since: at.Add(time.Minute), Agreed: "down", Loss: 0.25,
				Ev: monitor.Evidence{Probes: 64, Lost: 16}, Peers: map[string]string{"nyc-1": "down"}},
			{Addr: "2001:db8::30", State: "unknown", Agreed: "unknown"},
			{Addr: "203.0.113.40", State: "up", Since: at, Agreed: "unknown", Drained: true},
		},
		Drains: []agent.DrainEntry{{Addr: netip.MustParseAddr("203.0.113.40"), Drained: true, At: at.Add(30 * time.Second), By: "alice@ops", Reason: "kernel upgrade", Node: "fra-1"}},
		Pass: &agent.PassDoc{At: at.Add(2 * time.Minute), Duration: "12.5ms", Mode: "applied", Plans: []agent.PlanDoc{
			{Zone: "example.com", Deletes: []string{"www.example.com A 198.51.100.20"}, Applied: true},
			{Zone: "example.net", FailOpen: []string{"api.example.net"}},
			{Zone: "example.org", Creates: []string{"www.example.org A 198.51.100.7"}, Waiting: []string{"www.example.org A 192.0.2.7"},
				Tiers: []agent.TierDoc{{Name: "www.example.org", Type: "A", Tier: "backup", Evidence: "0 of 2 primaries up (min_primary_up 1), 1 of 1 backups up"},
					{Name: "www.example.org", Type: "AAAA", Tier: "primary", Evidence: "1 of 1 primaries up (min_primary_up 1)"}}},
		}},
	}
	var got bytes.Buffer
	renderStatus(&got, doc)
	const golden = "testdata/status.golden"
	checkGolden(t, golden, got.Bytes())
}

// TestEventKinds_ConfigMatchesNotify: the kinds config accepts are the
// kinds notify sends.
func TestEventKinds_ConfigMatchesNotify(t *testing.T) {
	if !slices.Equal(config.EventKinds, notify.Kinds) {
		t.Errorf("config.EventKinds %v != notify.Kinds %v", config.EventKinds, notify.Kinds)
	}
}
