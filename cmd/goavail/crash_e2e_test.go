package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goavail/goavail/internal/cfemu"
)

// TestE2E_CrashAndStopDuringApply holds the batch request that removes a
// down host's record in the emulator for 3 s, and meanwhile:
//   - kills the agent with SIGKILL: the request dies with it (the
//     emulator drops it; a real API might still apply it); a restart on the
//     same state file converges, and when the host answers again its record
//     comes back with its comment (the state was saved before the killed
//     request went out) and the configured ttl;
//   - stops it with SIGTERM: the agent lets the batch finish (the zone is
//     left as planned, not halfway), then exits cleanly.
func TestE2E_CrashAndStopDuringApply(t *testing.T) {
	l := newE2ELab(t, 26, labOpts{})
	a, b, emu := l.hosts[0], l.hosts[1], l.emu
	l.seed(cfemu.Record{TTL: 300, Comment: "hand-made"}, a)
	l.seed(cfemu.Record{TTL: 60}, b)
	state := filepath.Join(t.TempDir(), "state.json")
	// state_file must be a top-level key: put it before the first table.
	top := func(c string) string {
		i := strings.Index(c, "\n[")
		return c[:i] + fmt.Sprintf("\nstate_file = %q", state) + c[i:]
	}
	batches := func() int {
		n := 0
		for _, r := range emu.Requests() {
			if strings.HasSuffix(r.Path, "/batch") {
				n++
			}
		}
		return n
	}

	a.IgnoreEcho(true) // a is down from the start: the first pass removes it
	emu.Inject(cfemu.Fault{Method: http.MethodPost, PathSuffix: "/batch", Delay: 3 * time.Second, Count: 1})
	ag := l.start(top(labConfig(freeAddr(t), a, b)), "--no-dry-run")
	eventually(t, "a seen down", func() bool { return strings.Contains(ag.logs.String(), "addr="+a.V4.String()+" from=unknown to=down") }, ag.logs)
	eventually(t, "the emulator holding the batch", func() bool { return emu.Holding() == 1 }, ag.logs)
	ag.cmd.Process.Signal(syscall.SIGKILL)
	ag.cmd.Wait()
	// The emulator, as the real API, still applies the held request when its
	// hold ends, client or not.
	eventually(t, "the emulator done with the held request", func() bool { return emu.Holding() == 0 }, ag.logs)
	if !has(emu, "www.example.com", "A", a.V4.String()) || batches() != 0 {
		// A real API may still apply a request whose client died; the
		// restart below must converge either way.
		t.Logf("the killed request was applied: %v", emu.Records("example.com"))
	}

	ag = l.start(top(labConfig(freeAddr(t), a, b)), "--no-dry-run")
	eventually(t, "the restarted agent converges", func() bool { return !has(emu, "www.example.com", "A", a.V4.String()) }, ag.logs)
	a.IgnoreEcho(false)
	eventually(t, "a restored", func() bool { return has(emu, "www.example.com", "A", a.V4.String()) }, ag.logs)
	for _, r := range emu.Records("example.com") {
		if r.Content == a.V4.String() && (r.TTL != 120 || r.Comment != "hand-made") {
			t.Errorf("restored after a crash and a restart: %+v, want the configured ttl 120 and the remembered comment hand-made", r)
		}
	}

	// SIGTERM while a removal is held: it completes, then the agent exits.
	// b must be seen up first, else its going down is not a change.
	eventually(t, "b seen up", func() bool { return strings.Contains(ag.logs.String(), "addr="+b.V4.String()+" from=unknown to=up") }, ag.logs)
	emu.Inject(cfemu.Fault{Method: http.MethodPost, PathSuffix: "/batch", Delay: 3 * time.Second, Count: 1})
	b.IgnoreEcho(true)
	eventually(t, "b seen down", func() bool { return strings.Contains(ag.logs.String(), "addr="+b.V4.String()+" from=up to=down") }, ag.logs)
	eventually(t, "the emulator holding the batch", func() bool { return emu.Holding() == 1 }, ag.logs)
	start := time.Now()
	ag.stop(t)
	if has(emu, "www.example.com", "A", b.V4.String()) {
		t.Errorf("the batch in flight at SIGTERM was abandoned: %v\n%s", emu.Records("example.com"), ag.logs)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stop took %s", d)
	}
	if !strings.Contains(ag.logs.String(), "letting the DNS pass in progress finish") {
		t.Errorf("no sign of the pass being finished on stop:\n%s", ag.logs)
	}
}
