package main

import (
	"bytes"
	"os"
	"testing"
)

// checkGolden compares got with the golden file at path. With -update it
// writes the file instead and skips: an update run compares nothing, so it
// must not report a pass (run again without -update to check).
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Skipf("wrote %s (-update); run again without -update to compare", path)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -args -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
