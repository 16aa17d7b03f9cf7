package cloudflare

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/cfemu"
)

// TestReconciler_RestoresExactlyAcrossRestart removes a hand-made record
// (ttl 300, a comment, a tag) through the real SDK and emulator, then
// starts a new reconciler on the same state file, as after a restart, and
// checks the record comes back with its comment and tags, and with the ttl
// the operator configures now (config wins for ttl and proxied).
func TestReconciler_RestoresExactlyAcrossRestart(t *testing.T) {
	emu := cfemu.New()
	defer emu.Close()
	emu.AddZone("example.com")
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 300, Comment: "hand-made", Tags: []string{"team:web"}})
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.2", TTL: 60})
	cf, err := New(Options{BaseURL: emu.BaseURL(), Credentials: Credentials{Token: emu.Token}, BatchSize: 200, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.json")
	group := []dns.Group{{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2}, TTL: 60, Comment: "managed by goavail"}}
	run := func(h dns.Health) dns.PassReport {
		mem, err := dns.LoadMemory(path)
		if err != nil && !errors.Is(err, dns.ErrNoState) {
			t.Fatal(err)
		}
		r := dns.NewReconciler(dns.ReconcilerConfig{Provider: cf, Health: func() dns.Health { return h }, Log: slog.New(slog.DiscardHandler), Memory: mem})
		r.SetGroups(group, time.Minute)
		return r.Pass(context.Background())
	}
	if rep := run(dns.Health{ip1: false, ip2: true}); rep.Err != nil || len(rep.Plans[0].Deletes) != 1 {
		t.Fatalf("removal: %+v", rep)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "hand-made") {
		t.Fatalf("state file after the removal:\n%s", b)
	}
	if rep := run(dns.Health{ip1: true, ip2: true}); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	var found bool
	for _, r := range emu.Records("example.com") {
		if r.Content == "192.0.2.1" {
			found = true
			if r.TTL != 60 || r.Comment != "hand-made" || !slices.Equal(r.Tags, []string{"team:web"}) {
				t.Errorf("restored %+v, want ttl 60 (configured), comment hand-made, tags [team:web]", r)
			}
		}
	}
	if !found {
		t.Fatal("not restored")
	}
	m, err := dns.LoadMemory(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 0 {
		t.Errorf("the restored record is still remembered")
	}
}

// TestMemory_ExportImport: the writer's memory, exported and imported by
// another agent, restores exactly the same and is saved to that agent's
// state file; a malformed export changes nothing.
