package agent

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/history"
	"github.com/goavail/goavail/notify"
)

// TestHistory_StandbyRecordsWhatTheWriterMade: a standby agent records a
// change the writer made when the pass after the one that planned it,
// listing the zone again, no longer needs it, with the writer's name; a
// change still planned, or a pass that is not standby, records nothing.
func TestHistory_StandbyRecordsWhatTheWriterMade(t *testing.T) {
	mem := history.NewMemory(0)
	h := &agentHistory{rec: history.NewRecorder(mem, 0, nil), store: mem, node: "n2", writer: "n1"}
	go h.rec.Run(context.Background())
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	gone := dns.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1"}
	kept := dns.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.2"}
	pass := func(at time.Duration, mode string, deletes ...dns.Record) dns.PassReport {
		return dns.PassReport{At: t0.Add(at), Mode: mode, Plans: []dns.ZonePlan{{Zone: "example.com", Deletes: deletes}}}
	}
	h.standbySeen(pass(0, dns.ModeStandby, gone, kept))
	h.standbySeen(pass(time.Second, dns.ModeStandby, kept)) // the writer removed gone
	h.standbySeen(pass(2*time.Second, dns.ModeApplied))     // this agent writes now: no comparison
	h.standbySeen(pass(3*time.Second, dns.ModeStandby))     // kept vanished, but across a writing pass
	h.rec.Close()
	got, _ := mem.Query(history.Filter{})
	if len(got) != 1 {
		t.Fatalf("recorded %+v, want one change made by the writer", got)
	}
	if e := got[0]; e.Mode != history.ModeByWriter || e.Writer != "n1" || e.Content != "192.0.2.1" || e.Action != "delete" || !e.At.Equal(t0.Add(time.Second)) || e.Node != "n2" {
		t.Errorf("recorded %+v", e)
	}
	if want := "2026-12-07T12:00:01.000Z n2 dns        by_writer delete www.example.com A 192.0.2.1 in example.com (writer n1)"; got[0].Line() != want {
		t.Errorf("Line() = %q, want %q", got[0].Line(), want)
	}
}

// TestHistory_TierChangesAndPauses: a change of the serving tier (as the
// events type notifies it) and a pause of the agent (as the probe engine
// reports it) are recorded, with their evidence.
func TestHistory_TierChangesAndPauses(t *testing.T) {
	mem := history.NewMemory(0)
	h := &agentHistory{rec: history.NewRecorder(mem, 0, nil), store: mem, node: "n1"}
	go h.rec.Run(context.Background())
	ev := newEvents(notify.New(slog.New(slog.DiscardHandler)), "n1")
	ev.h = h
	ev.tier(dns.TierChange{Zone: "example.com", From: dns.TierPrimary, Mode: dns.ModeApplied, HostTier: dns.HostTier{Name: "www.example.com", Type: "A", Tier: dns.TierBackup, Primaries: 2, MinPrimaryUp: 1, Backups: 1, BackupsUp: 1}})
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	h.paused(t0, 3500*time.Millisecond)
	h.rec.Close()
	got, _ := mem.Query(history.Filter{})
	if len(got) != 2 {
		t.Fatalf("recorded %+v, want a tier change and a pause", got)
	}
	byKind := map[history.Kind]history.Event{}
	for _, e := range got {
		byKind[e.Kind] = e
	}
	if e := byKind[history.KindTier]; e.Name != "www.example.com" || e.Type != "A" || e.From != "primary" || e.To != "backup" || e.Zone != "example.com" {
		t.Errorf("tier event %+v", e)
	}
	if e := byKind[history.KindPause]; !e.At.Equal(t0) || !strings.Contains(e.Line(), "paused for 3.5s") {
		t.Errorf("pause event %+v (%q)", e, e.Line())
	}
}

// TestHistory_StandbySeesTheWriterFromItsListings: the writer removed an
// address before this standby agent planned the removal (it agreed a
// moment later): the standby's two listings show the record gone, which
// is recorded as the writer's; a record a hand edit removed and this pass
// plans to bring back is not the writer's, and a record that appeared is.
// Before, only a change this agent had planned was recorded, so agent-2 of
// TestE2E_ClusterAgreement missed the removal whenever the writer was the
// faster.
func TestHistory_StandbySeesTheWriterFromItsListings(t *testing.T) {
	mem := history.NewMemory(0)
	h := &agentHistory{rec: history.NewRecorder(mem, 0, nil), store: mem, node: "n2", writer: "n1"}
	go h.rec.Run(context.Background())
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	rec := func(ip string) dns.Record { return dns.Record{Name: "www.example.com", Type: "A", Content: ip} }
	a, b, c, d := rec("192.0.2.1"), rec("192.0.2.2"), rec("192.0.2.3"), rec("192.0.2.4")
	pass := func(at time.Duration, listed []dns.Record, creates ...dns.Record) dns.PassReport {
		return dns.PassReport{At: t0.Add(at), Mode: dns.ModeStandby, Plans: []dns.ZonePlan{{Zone: "example.com", Listed: listed, Creates: creates}}}
	}
	h.standbySeen(pass(0, []dns.Record{a, b, c}))
	h.standbySeen(pass(time.Second, []dns.Record{b, d}, c)) // a removed by the writer; c by hand (planned back); d made by the writer
	h.rec.Close()
	got, _ := mem.Query(history.Filter{})
	var lines []string
	for _, e := range got {
		if e.Mode != history.ModeByWriter || e.Writer != "n1" || !e.At.Equal(t0.Add(time.Second)) {
			t.Errorf("recorded %+v", e)
		}
		lines = append(lines, e.Action+" "+e.Content)
	}
	if want := "create 192.0.2.4,delete 192.0.2.1"; strings.Join(sorted(lines), ",") != want {
		t.Errorf("recorded %q, want %q", lines, want)
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }

// TestHistory_StandbyPlanNoLongerNeededIsNotTheWriters: a standby planned
// a removal, then the address came back up before the writer acted: the
// next pass no longer plans it, but the record is still listed, so the
// writer made nothing and nothing is recorded.
func TestHistory_StandbyPlanNoLongerNeededIsNotTheWriters(t *testing.T) {
	mem := history.NewMemory(0)
	h := &agentHistory{rec: history.NewRecorder(mem, 0, nil), store: mem, node: "n2", writer: "n1"}
	go h.rec.Run(context.Background())
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	a := dns.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1"}
	h.standbySeen(dns.PassReport{At: t0, Mode: dns.ModeStandby, Plans: []dns.ZonePlan{{Zone: "example.com", Listed: []dns.Record{a}, Deletes: []dns.Record{a}}}})
	h.standbySeen(dns.PassReport{At: t0.Add(time.Second), Mode: dns.ModeStandby, Plans: []dns.ZonePlan{{Zone: "example.com", Listed: []dns.Record{a}}}})
	h.rec.Close()
	if got, _ := mem.Query(history.Filter{}); len(got) != 0 {
		t.Errorf("recorded %+v, want nothing: the writer made no change", got)
	}
}
