package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goavail/goavail/agent"
)

// TestHTTPListen_WarnsBeyondLoopback: every interface gets a warning,
// loopback none.
func TestHTTPListen_WarnsBeyondLoopback(t *testing.T) {
	for addr, warn := range map[string]bool{":9800": true, "0.0.0.0:9800": true, "[::]:9800": true, "192.0.2.1:9800": true,
		"127.0.0.1:9800": false, "[::1]:9800": false, "localhost:9800": false} {
		if got := agent.ExposedWarning(addr) != ""; got != warn {
			t.Errorf("%s: warning %v, want %v", addr, got, warn)
		}
	}
	if dialable(":9800") != "127.0.0.1:9800" || dialable("[::]:9800") != "[::1]:9800" || dialable("192.0.2.1:9800") != "192.0.2.1:9800" {
		t.Error("dialable does not turn unspecified hosts into loopback")
	}
}

// TestStatus_RefusesAnotherAgent: goavail status reading a config refuses
// the answer of an agent with another node_name (another goavail on that
// port), and reads http_listen from the config.
func TestStatus_RefusesAnotherAgent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(agent.StatusDoc{Node: "other", Version: "v1"})
	}))
	defer srv.Close()
	cfg := filepath.Join(t.TempDir(), "goavail.toml")
	os.WriteFile(cfg, []byte("node_name = \"vm\"\nhttp_listen = \""+strings.TrimPrefix(srv.URL, "http://")+"\"\n[Cloudflare]\ndns_domain = \"example.com\"\nhostnames = [\"www\"]\nip_addresses = [\"192.0.2.1\"]\n"), 0o600)
	unsetenv(t, "GOAVAIL_CONFIG")
	var out, errb bytes.Buffer
	code := run([]string{"goavail", "status", "-f", cfg}, &out, &errb)
	if code != exitRuntime || !strings.Contains(errb.String(), `is node "other", not "vm" as the config says`) {
		t.Errorf("exit %d: %s", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"goavail", "status", "--addr", srv.URL}, &out, &errb); code != 0 || !strings.Contains(out.String(), "node other") {
		t.Errorf("--addr asks that agent whatever its name: exit %d: %s", code, out.String())
	}
}

// TestVersion_FromGoStamp: a plain go build (no ldflags) reports the VCS
// revision Go stamped, not "unknown".
func TestVersion_FromGoStamp(t *testing.T) {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	// Go stamps a checkout whose .git is a directory; a git worktree's is a
	// file, so build from a clone of HEAD, as a user's checkout would be.
	dir := t.TempDir()
	root, _ := filepath.Abs("../..")
	if out, err := exec.Command("git", "clone", "-q", "--depth", "1", "file://"+root, filepath.Join(dir, "src")).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, "goavail")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/goavail")
	cmd.Dir = filepath.Join(dir, "src")
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=true")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if rev := strings.TrimSpace(string(head)); !strings.Contains(string(out), "(commit "+rev) {
		t.Errorf("version = %q, want commit %s", out, rev)
	}
}
