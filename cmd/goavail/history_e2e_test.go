package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goavail/goavail/history"
)

// TestE2E_HistorySurvivesKillAndCorruption runs the binary with a state
// file: a host goes down and its record is removed; goavail history shows
// the transition with its evidence and the removal, through GET /history
// while the agent runs and from the file once it was killed with SIGKILL.
// A restart keeps the history and adds to it. A history file garbled by
// hand is set aside with a warning and the agent runs on a new one.
func TestE2E_HistorySurvivesKillAndCorruption(t *testing.T) {
	l := newE2ELab(t, 141, labOpts{seedTTL: 60})
	a, b := l.hosts[0], l.hosts[1]
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	store := filepath.Join(dir, "state.history.db")
	httpAddr := freeAddr(t)
	conf := func() string {
		c := labConfig(httpAddr, a, b)
		i := strings.Index(c, "\n[")
		return c[:i] + fmt.Sprintf("\nstate_file = %q", state) + c[i:]
	}
	var ag *proc
	// try runs goavail history --json; the agent may not answer yet.
	try := func(args ...string) ([]history.Event, error) {
		out, err := exec.Command(l.bin, append([]string{"history", "--json"}, args...)...).Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				err = fmt.Errorf("%w: %s", err, ee.Stderr)
			}
			return nil, err
		}
		var ev []history.Event
		if err := json.Unmarshal(out, &ev); err != nil {
			return nil, fmt.Errorf("goavail history --json: %w\n%s", err, out)
		}
		return ev, nil
	}
	events := func(args ...string) []history.Event {
		t.Helper()
		ev, err := try(args...)
		if err != nil {
			t.Fatalf("goavail history %v: %v", args, err)
		}
		return ev
	}
	// eventsEventually waits for the events of goavail history args to
	// satisfy ok.
	eventsEventually := func(what string, ok func([]history.Event) bool, args ...string) {
		t.Helper()
		eventually(t, what, func() bool {
			ev, err := try(args...)
			return err == nil && ok(ev)
		}, ag.logs)
	}
	count := func(ev []history.Event, match func(history.Event) bool) int {
		n := 0
		for _, e := range ev {
			if match(e) {
				n++
			}
		}
		return n
	}
	down := func(e history.Event) bool {
		return e.Kind == history.KindTransition && e.Address == a.V4.String() && e.To == "down" && e.Probes > 0 && e.Lost > 0
	}
	removed := func(e history.Event) bool {
		return e.Kind == history.KindDNS && e.Mode == history.ModeApplied && e.Action == "delete" && e.Content == a.V4.String() && e.Name == "www.example.com"
	}
	starts := func(e history.Event) bool { return e.Kind == history.KindStart }

	a.IgnoreEcho(true)
	ag = l.start(conf(), "--no-dry-run")
	eventually(t, "a's record removed", func() bool { return !has(l.emu, "www.example.com", "A", a.V4.String()) }, ag.logs)
	eventsEventually("goavail history (through /history) showing a down and its removal", func(ev []history.Event) bool {
		return count(ev, down) == 1 && count(ev, removed) == 1 && count(ev, func(e history.Event) bool { return e.Address == b.V4.String() }) == 0
	}, "--addr", httpAddr, "--address", a.V4.String())
	text, err := exec.Command(l.bin, "history", "--addr", httpAddr, "--hostname", "www.example.com").Output()
	if err != nil || !strings.Contains(string(text), a.V4.String()+" unknown -> down (www.example.com) lost ") ||
		!strings.Contains(string(text), "dns        applied delete www.example.com A "+a.V4.String()) {
		t.Errorf("goavail history (text): %v\n%s", err, text)
	}

	ag.cmd.Process.Kill() // SIGKILL
	ag.cmd.Wait()
	// No agent answers: goavail history reads the file the config names.
	ev := events("--config-file", ag.cfg)
	if count(ev, down) != 1 || count(ev, removed) != 1 || count(ev, starts) != 1 {
		t.Fatalf("after kill -9, the file holds %d down, %d removals, %d starts; want 1 each:\n%+v", count(ev, down), count(ev, removed), count(ev, starts), ev)
	}

	ag = l.start(conf(), "--no-dry-run")
	eventsEventually("the restarted agent adding to the history", func(ev []history.Event) bool {
		return count(ev, starts) == 2 && count(ev, down) == 2 && count(ev, removed) == 1
	}, "--addr", httpAddr)
	ag.stop(t)
	ev = events("--file", store)
	if n := len(ev); n == 0 || ev[n-1].Kind != history.KindStop {
		t.Errorf("a clean stop does not end the history with a stop event: %+v", ev)
	}

	// Garble the file by hand: the agent sets it aside and starts anew.
	if err := os.WriteFile(store, []byte(strings.Repeat("not a bbolt file ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	ag = l.start(conf(), "--no-dry-run")
	eventually(t, "the corrupt file set aside", func() bool { return strings.Contains(ag.logs.String(), "history file unusable: set aside") }, ag.logs)
	eventsEventually("a new history with one start", func(ev []history.Event) bool { return count(ev, starts) == 1 }, "--addr", httpAddr)
	if aside, _ := filepath.Glob(store + ".corrupt-*"); len(aside) != 1 {
		t.Errorf("set aside: %v, want one %s.corrupt-<time>", aside, store)
	}
	ag.stop(t)
}
