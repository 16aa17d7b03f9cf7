package main

import (
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/cfemu"
	"github.com/goavail/goavail/internal/chaos"
)

// TestE2E_ChaosLateWrite is issue 19's "a restore held in transit lands
// after the stand-in's removal", with three real agents: the writer's
// restore of an address that came back is held in transit (the emulator
// commits it when released, whatever its client did meanwhile); the
// writer freezes (SIGSTOP) and its lease lapses; a stand-in takes over,
// restores the address itself, and removes it when it goes down again;
// then the held request is released. Without a fence it recreates the dead
// record, and chaos.CheckJournal, which reads only the emulator's journal,
// reports the stale write (f); chaos.Check, which trusts the agents' lease
// claims, sees nothing wrong (the request arrived inside the lease).
//
// With the zone fence (the default) the stale batch is refused whole (404,
// 81044) and nothing stale commits; "unfenced" turns the fence off
// (GOAVAIL_TEST_NO_ZONE_FENCE) to show that the check then catches the
// late write: the check can fail.
func TestE2E_ChaosLateWrite(t *testing.T) {
	t.Run("fenced", func(t *testing.T) { lateWrite(t, 141, "transit", true) })
	t.Run("unfenced", func(t *testing.T) { lateWrite(t, 144, "transit", false) })
}

// TestE2E_ChaosSkippedLeaseCheck: the same scenario with the writer
// paused after its last lease check and before the send (the agent's
// GOAVAIL_TEST_PAUSE_BEFORE_SEND hook, then SIGSTOP while it pauses).
// With GOAVAIL_TEST_SKIP_LEASE_CHECK=1 the batch goes out when it wakes,
// and the journal check catches the stale restore: what the fence must
// then refuse. With the check in place the lease's end should cancel the
// send, but does not always (see "checked"): the journal tells which.
func TestE2E_ChaosSkippedLeaseCheck(t *testing.T) {
	t.Run("skipped", func(t *testing.T) { lateWrite(t, 142, "pause-skip", true) })
	t.Run("checked", func(t *testing.T) { lateWrite(t, 143, "pause", true) })
}

// lateWrite runs the scenario; mode is "transit" (an emulator hold),
// "pause-skip" (a pause before the send, lease check skipped) or "pause"
// (a pause before the send, lease check on); fenced is whether the agents
// write with the zone fence.
func lateWrite(t *testing.T, subnet int, mode string, fenced bool) {
	seed := uint64(envInt("GOAVAIL_CHAOS_SEED", int(time.Now().UnixNano()%1_000_000)))
	var env []string
	if mode != "transit" {
		// Every run pauses: long enough for the test to stop the writer in
		// its pause, short enough (against the ~2 s a lease has left at a
		// batch) for the stand-in's own batches to go out.
		env = append(env, dns.TestPauseBeforeSendEnv+"=1s")
	}
	if mode == "pause-skip" {
		env = append(env, dns.TestSkipLeaseCheckEnv+"=1")
	}
	if !fenced {
		env = append(env, dns.TestNoZoneFenceEnv+"=1")
	}
	c := newChaosRun(t, 3, subnet, seed, env...)
	c.expectViolations = true
	tgt := c.targets[1]
	addr := tgt.V4.String()

	c.down[tgt] = true
	tgt.IgnoreEcho(true)
	c.eventually(addr+" removed", 60*time.Second, c.converged)

	w := c.waitWriter()
	if w == nil {
		t.Fatalf("no writer\n%s", c.allLogs(20000))
	}
	const pauseLine = "test hook: pausing after the last lease check"
	pauses := strings.Count(w.live.logs.String(), pauseLine)
	release := make(chan struct{})
	taken := make(chan time.Time, 1)
	if mode == "transit" {
		c.emu.Inject(cfemu.Fault{Method: http.MethodPost, PathSuffix: "/batch", Agent: w.label(), Body: `"` + addr + `"`, Until: release, Count: 1, Taken: taken})
	}
	c.down[tgt] = false
	tgt.IgnoreEcho(false)
	if mode == "transit" {
		select {
		case <-taken:
		case <-time.After(60 * time.Second):
			t.Fatalf("%s (the writer) never sent the restore of %s\n%s", w.name, addr, c.allLogs(20000))
		}
	} else {
		c.eventually(w.name+" pausing before it sends the restore", 60*time.Second, func() bool {
			return strings.Count(w.live.logs.String(), pauseLine) > pauses
		})
	}
	w.live.cmd.Process.Signal(syscall.SIGSTOP)
	w.held = true
	t.Logf("%s's restore of %s is in the air (%s); %s stopped", w.label(), addr, mode, w.name)

	by := func(deleted bool) func() bool {
		return func() bool {
			j := c.emu.Journal()
			for _, e := range j {
				if !e.Committed || e.Agent == w.label() {
					continue
				}
				rs := e.Created
				if deleted {
					rs = e.Deleted
				}
				if slices.ContainsFunc(rs, func(r cfemu.Record) bool { return r.Content == addr && r.Name == "www.example.com" }) &&
					(!deleted || slices.ContainsFunc(j, func(x cfemu.Entry) bool {
						return x.Committed && x.Version < e.Version && slices.ContainsFunc(x.Created, func(r cfemu.Record) bool { return r.Content == addr })
					})) {
					return true
				}
			}
			return false
		}
	}
	c.eventually("a stand-in restores "+addr, 60*time.Second, by(false))
	c.down[tgt] = true
	tgt.IgnoreEcho(true)
	c.eventually("the stand-in removes "+addr+" again", 60*time.Second, by(true))

	// The stale restore goes on: released from transit, or the writer
	// woken from its pause.
	outcome := func() int { // W's log lines with a result for addr, or a write the fence refused
		n := 0
		for _, l := range strings.Split(w.live.logs.String(), "\n") {
			if strings.Contains(l, "content="+addr) && strings.Contains(l, "result=") && !strings.Contains(l, "result=planned") ||
				strings.Contains(l, "dns write refused: the zone changed since it was listed") { // the fence refused it
				n++
			}
		}
		return n
	}
	before := outcome()
	close(release)
	w.held = false
	w.live.cmd.Process.Signal(syscall.SIGCONT)
	// late is the journal's entry for the stale restore: committed, or
	// refused with 404 (the fence).
	var late *cfemu.Entry
	findLate := func() bool {
		for _, e := range c.emu.Journal() {
			if e.Agent == w.label() && e.Write() && strings.HasSuffix(e.Path, "/batch") &&
				(e.Committed && slices.ContainsFunc(e.Created, func(r cfemu.Record) bool { return r.Content == addr }) || !e.Committed && e.Status == http.StatusNotFound) {
				late = &e
			}
		}
		return late != nil
	}
	if mode == "transit" {
		c.eventually("the held request processed", 30*time.Second, findLate)
	} else {
		c.eventually(w.name+" acting on its paused batch", 30*time.Second, func() bool { return outcome() > before })
		findLate()
	}
	vs := c.verdict(0)
	var stale []chaos.Violation
	for _, v := range vs {
		if v.Invariant == "f" && strings.Contains(v.Detail, w.label()+"'s write") {
			stale = append(stale, v)
		}
	}
	t.Logf("violations:\n%s", chaos.Report(vs))
	switch {
	case mode == "pause":
		// With the lease check on, a batch whose lease lapsed during the
		// pause should not go out. But the lease's context ends by a timer
		// whose cancel runs in a goroutine of its own: woken together, the
		// paused send may start first, and then the stale restore commits
		// (seen in 1 of 2 runs, 2026-12-07). The journal must tell either
		// way: a committed stale restore is reported, no commit means no
		// violation; with the fence it is refused.
		switch {
		case late != nil && late.Committed:
			t.Logf("the paused batch went out after its lease lapsed although the lease check was on (committed %s)", late.CommitAt.Format(chaosTF))
			if len(stale) == 0 {
				t.Errorf("the journal check missed the stale restore of %s:\n%s", w.label(), chaos.Report(vs))
			}
			if fenced {
				t.Errorf("with the fence the stale restore should have been refused")
			}
		case len(vs) > 0:
			t.Errorf("violations although the stale restore did not commit:\n%s", chaos.Report(vs))
		}
	case !fenced:
		// Today: the stale restore commits on the stand-in's removal and
		// brings the dead address back; the journal check must say so.
		if late == nil || !late.Committed {
			t.Fatalf("the stale restore of %s from %s did not commit: the late write did not happen\n%s", addr, w.label(), c.allLogs(20000))
		}
		if len(stale) == 0 {
			t.Errorf("the journal check missed the late write of %s (committed %s on version %d):\n%s", w.label(), late.CommitAt.Format(chaosTF), late.Base, chaos.Report(vs))
		}
	default:
		// With the fence: the stale batch is refused whole, nothing is stale.
		if late == nil || late.Committed || late.Status != http.StatusNotFound {
			t.Errorf("with the fence the stale restore should be refused with 404 (81044): %+v", late)
		}
		if len(vs) > 0 {
			t.Errorf("violations with the fence:\n%s", chaos.Report(vs))
		}
	}
}

const chaosTF = "15:04:05.000"
