package main

import (
	"runtime/debug"
	"testing"
)

// TestTuneGC: goavail sets its own GC target only when the operator has not
// set GOGC.
func TestTuneGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	if got := tuneGC(func(string) string { return "" }); got != gcPercent {
		t.Errorf("no GOGC: target %d, want %d", got, gcPercent)
	}
	if cur := debug.SetGCPercent(100); cur != gcPercent {
		t.Errorf("no GOGC: runtime target %d, want %d", cur, gcPercent)
	}
	env := func(k string) string {
		if k == "GOGC" {
			return "200"
		}
		return ""
	}
	debug.SetGCPercent(200) // as the runtime read it from GOGC=200
	if got := tuneGC(env); got != 200 {
		t.Errorf("GOGC=200: target %d, want the operator's 200", got)
	}
	if cur := debug.SetGCPercent(100); cur != 200 {
		t.Errorf("GOGC=200: runtime target %d, want 200 left alone", cur)
	}
}
