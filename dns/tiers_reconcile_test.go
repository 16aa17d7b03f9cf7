package dns

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestReconciler_TierSwitchMakesBeforeBreak: both primaries go down; the
// first pass creates the backup and asks for the next pass at once (a
// kick), which removes the primaries; one primary back: restored first,
// the backup withdrawn in the following pass. Each tier change is told to
// OnTier, with its evidence, and logged.
func TestReconciler_TierSwitchMakesBeforeBreak(t *testing.T) {
	g := Group{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{p1, p2, b1}, Backups: []netip.Addr{b1}, TTL: 60}
	p := &memProvider{records: []Record{rec("1", "www.example.com", "A", p1.String()), rec("2", "www.example.com", "A", p2.String())}}
	h := &health{h: Health{p1: true, p2: true, b1: true}}
	var logs bytes.Buffer
	var changes []TierChange
	r := NewReconciler(ReconcilerConfig{Provider: p, Health: h.get, Log: slog.New(slog.NewTextHandler(&logs, nil)), OnTier: func(c TierChange) { changes = append(changes, c) }})
	r.SetGroups([]Group{g}, time.Minute)
	<-r.kick // SetGroups' own kick
	ctx := context.Background()
	kicked := func() bool {
		select {
		case <-r.kick:
			return true
		default:
			return false
		}
	}
	step := func(what, want string, kick bool) {
		t.Helper()
		if rep := r.Pass(ctx); rep.Err != nil {
			t.Fatal(rep.Err)
		}
		if got := p.contents("www.example.com"); got != want {
			t.Fatalf("%s: records %s, want %s", what, got, want)
		}
		if k := kicked(); k != kick {
			t.Errorf("%s: kicked %v, want %v", what, k, kick)
		}
	}
	step("steady", "192.0.2.11,192.0.2.12", false)
	h.set(p1, false)
	h.set(p2, false)
	step("primaries down: backup created first", "192.0.2.11,192.0.2.12,198.51.100.21", true)
	step("next pass: primaries removed", "198.51.100.21", false)
	h.set(p1, true)
	step("a primary back: restored first", "198.51.100.21,192.0.2.11", true)
	step("next pass: backup withdrawn", "192.0.2.11", false)
	var got []string
	for _, c := range changes {
		got = append(got, string(c.From)+">"+string(c.Tier)+" "+c.Evidence())
	}
	if want := "primary>backup 0 of 2 primaries up (min_primary_up 1), 1 of 1 backups up;backup>primary 1 of 2 primaries up (min_primary_up 1), 1 of 1 backups up"; strings.Join(got, ";") != want {
		t.Errorf("tier changes %q, want %q", strings.Join(got, ";"), want)
	}
	if !strings.Contains(logs.String(), `msg="serving www.example.com A from the backup tier" zone=example.com name=www.example.com type=A from=primary tier=backup primaries_up=0 primaries=2`) {
		t.Errorf("no tier change log line:\n%s", logs.String())
	}
}
