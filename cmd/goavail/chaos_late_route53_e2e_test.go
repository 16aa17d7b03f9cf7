package main

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/chaos"
	"github.com/goavail/goavail/internal/r53emu"
)

// TestE2E_ChaosLateWriteRoute53 is TestE2E_ChaosLateWrite against the
// Route 53 emulator: the writer's restore of an address that came back is
// held in the emulator; the writer freezes and its lease lapses; a
// stand-in restores the address and removes it again when it goes down,
// which leaves the www set as the writer listed it (A, B, A); then the
// held batch is served. Route 53's exact DELETE alone does not see the
// A-B-A: "unfenced" (GOAVAIL_TEST_NO_ZONE_FENCE) shows the stale restore
// committing and the journal check (chaos.CheckSetJournal on r53emu.Ops)
// reporting it, so the Route 53 chaos check can fail. "fenced" (the
// default): the fence set, replaced by every write and deleted exactly as
// read, makes Route 53 refuse the batch (InvalidChangeBatch), and nothing
// is reported.
func TestE2E_ChaosLateWriteRoute53(t *testing.T) {
	t.Run("fenced", func(t *testing.T) { lateWriteRoute53(t, 146, true) })
	t.Run("unfenced", func(t *testing.T) { lateWriteRoute53(t, 147, false) })
}

func lateWriteRoute53(t *testing.T, subnet int, fenced bool) {
	t.Setenv(chaosProviderEnv, "route53")
	seed := uint64(envInt("GOAVAIL_CHAOS_SEED", int(time.Now().UnixNano()%1_000_000)))
	var env []string
	if !fenced {
		env = append(env, dns.TestNoZoneFenceEnv+"=1")
	}
	c := newChaosRun(t, 3, subnet, seed, env...)
	c.expectViolations = true
	emu := c.r53.emu
	// No rate limit: the held batch, served as the writer wakes and the
	// standbys list, must meet the fence, not a Throttling answer (seen).
	emu.SetRateLimit(0)
	tgt := c.targets[1]
	addr := tgt.V4.String()
	t.Logf("seed %d, weighted set %t", seed, c.r53.weighted)

	c.down[tgt] = true
	tgt.IgnoreEcho(true)
	c.eventually(addr+" removed", 60*time.Second, c.converged)

	w := c.waitWriter()
	if w == nil {
		t.Fatalf("no writer\n%s", c.allLogs(20000))
	}
	release := make(chan struct{})
	taken := make(chan time.Time, 1)
	c.holdBatch(w.label(), 0, release, taken)
	c.down[tgt] = false
	tgt.IgnoreEcho(false)
	var heldAt time.Time
	select {
	case heldAt = <-taken:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s (the writer) never sent the restore of %s\n%s", w.name, addr, c.allLogs(20000))
	}
	w.live.cmd.Process.Signal(syscall.SIGSTOP)
	w.held = true
	t.Logf("%s's restore of %s is held in the emulator; %s stopped", w.label(), addr, w.name)

	has := func(sets []r53emu.RRSet) bool {
		return slices.ContainsFunc(sets, func(s r53emu.RRSet) bool {
			return s.Name == "www.example.com." && s.Type == "A" && slices.Contains(s.Values, addr)
		})
	}
	// A stand-in's commit that restored addr, then one that removed it.
	standIn := func(removed bool) func() bool {
		return func() bool {
			restored := false
			for _, e := range emu.Journal() {
				if !e.Committed || e.Agent == w.label() {
					continue
				}
				if !restored && has(e.Created) && !has(e.Deleted) {
					restored = true
				} else if restored && has(e.Deleted) && !has(e.Created) {
					return true
				}
			}
			return restored && !removed
		}
	}
	c.eventually("a stand-in restores "+addr, 60*time.Second, standIn(false))
	c.down[tgt] = true
	tgt.IgnoreEcho(true)
	c.eventually("the stand-in removes "+addr+" again", 60*time.Second, standIn(true))

	close(release)
	w.held = false
	w.live.cmd.Process.Signal(syscall.SIGCONT)
	var late *r53emu.Entry
	c.eventually("the held batch served", 30*time.Second, func() bool {
		for _, e := range emu.Journal() {
			if e.Agent == w.label() && e.Write() && e.At.Equal(heldAt) && (e.Committed || e.Status != 0) {
				late = &e
			}
		}
		return late != nil
	})
	vs := c.verdict(0)
	var stale []chaos.Violation
	for _, v := range vs {
		if v.Invariant == "f" && strings.Contains(v.Detail, w.label()+"'s write") {
			stale = append(stale, v)
		}
	}
	t.Logf("the held batch: committed %t, %d %s; violations:\n%s", late.Committed, late.Status, late.Code, chaos.Report(vs))
	if !fenced {
		if !late.Committed {
			t.Fatalf("the stale restore of %s from %s did not commit (%d %s): the late write did not happen\n%s", addr, w.label(), late.Status, late.Code, c.allLogs(20000))
		}
		if len(stale) == 0 {
			t.Errorf("the journal check missed the late write of %s (committed %s on version %d):\n%s", w.label(), late.CommitAt.Format(chaosTF), late.Base, chaos.Report(vs))
		}
		return
	}
	if late.Committed || late.Code != "InvalidChangeBatch" {
		t.Errorf("with the fence the stale restore should be refused with InvalidChangeBatch: committed %t, %d %s", late.Committed, late.Status, late.Code)
	}
	if len(vs) > 0 {
		t.Errorf("violations with the fence:\n%s", chaos.Report(vs))
	}
}
