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
	tuneGC(func(string) string { return "" })
	if cur := debug.SetGCPercent(200); cur != gcPercent { // 200: as the runtime read it from GOGC=200
		t.Errorf("no GOGC: runtime target %d, want %d", cur, gcPercent)
	}
	tuneGC(func(k string) string {
		if k == "GOGC" {
			return "200"
		}
		return ""
	})
	if cur := debug.SetGCPercent(100); cur != 200 {
		t.Errorf("GOGC=200: runtime target %d, want the operator's 200 left alone", cur)
	}
}
