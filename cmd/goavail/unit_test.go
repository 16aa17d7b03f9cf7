package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit_Verifies runs systemd-analyze verify on dist/goavail.service,
// with ExecStart pointing at a freshly built binary.
func TestSystemdUnit_Verifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (make test-deps installs systemd); the unit file was not verified")
	}
	unit, err := os.ReadFile("../../dist/goavail.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"AmbientCapabilities=CAP_NET_RAW", "NoNewPrivileges=yes", "ProtectSystem=strict", "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID", "DynamicUser=yes", "LoadCredential=goavail:/etc/goavail/credentials"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %s", want)
		}
	}
	bin := buildBinary(t)
	path := filepath.Join(t.TempDir(), "goavail.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/bin/goavail", bin)), 0o644)
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	// verify also reports problems of unrelated units on the machine; only
	// lines about ours count.
	var ours []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "goavail.service") {
			ours = append(ours, line)
		}
	}
	if len(ours) > 0 || (err != nil && len(strings.TrimSpace(string(out))) == 0) {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
