package agent

import (
	"bytes"
	"strings"
	"testing"

	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/monitor"
)

// TestClusterLogger_AloneLeaseLinesAreDebug: a lone agent does not log the
// writer lease at info ("writer lease acquired … term=0" puzzled a new
// operator); with peers every lease line stays at info.
func TestClusterLogger_AloneLeaseLinesAreDebug(t *testing.T) {
	lines := []string{"writer lease acquired: this agent writes DNS", "writer lease lost: this agent no longer writes DNS",
		"preferred dns writer", "dns write under the writer lease"}
	for _, alone := range []bool{true, false} {
		var b bytes.Buffer
		log, _ := NewLogger("info", "text", &b)
		cl := clusterLogger(log, alone)
		for _, l := range lines {
			cl.Info(l, "term", 0)
		}
		cl.Warn("too few voting agents to change anything; no agent writes DNS from here")
		for _, l := range lines {
			if got := strings.Contains(b.String(), l); got == alone {
				t.Errorf("alone=%v: %q at info: %v", alone, l, got)
			}
		}
		if !strings.Contains(b.String(), "too few voting agents") {
			t.Errorf("alone=%v: a warning was lost:\n%s", alone, b.String())
		}
	}
}

// TestTransitionLevel: a transition into down is WARN, so that an on-call
// filter on warnings sees every address lost; up and unknown stay INFO.
func TestTransitionLevel(t *testing.T) {
	for to, want := range map[monitor.State]string{monitor.Down: "WARN", monitor.Up: "INFO", monitor.Unknown: "INFO"} {
		if got := transitionLevel(to).String(); got != want {
			t.Errorf("to %v: %s, want %s", to, got, want)
		}
	}
}

// TestLoadMemory_NoStateFileIsAWarning: a run by hand without state_file
// (no systemd $STATE_DIRECTORY) loses drains and removed records at a
// restart; that was said at INFO only, and is now a WARN naming the fix.
func TestLoadMemory_NoStateFileIsAWarning(t *testing.T) {
	var b bytes.Buffer
	log, _ := NewLogger("warn", "text", &b)
	loadMemory(&config.Config{}, func(string) string { return "" }, log)
	if !strings.Contains(b.String(), "level=WARN") || !strings.Contains(b.String(), "set state_file") {
		t.Errorf("no warning naming state_file:\n%s", b.String())
	}
	b.Reset()
	loadMemory(&config.Config{}, func(k string) string {
		if k == "STATE_DIRECTORY" {
			return t.TempDir()
		}
		return ""
	}, log)
	if b.Len() != 0 {
		t.Errorf("a warning under systemd: %s", b.String())
	}
}
