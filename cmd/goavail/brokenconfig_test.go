package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goavail/goavail/agent"
)

// TestStatus_BrokenConfigAsksTheAgentAnyway: goavail status and drain
// used to refuse to run when the config on disk did not load, exactly
// when the operator needs them. They now read http_listen and node_name
// from the broken file (or take the default address when it is not TOML
// at all), warn, and ask the running agent.
func TestStatus_BrokenConfigAsksTheAgentAnyway(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/status":
			json.NewEncoder(w).Encode(agent.StatusDoc{Node: "fra-1", Version: "v1"})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	broken := filepath.Join(dir, "goavail.toml")
	os.WriteFile(broken, []byte("http_listen = \""+addr+"\"\nnode_name = \"fra-1\"\nfailure_threshhold = 3\n[Cloudflare]\ndns_domain = \"example.com\"\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"goavail", "status", "-f", broken}, &out, &errb); code != exitOK {
		t.Fatalf("status on a broken config: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "node fra-1") || !strings.Contains(errb.String(), "is invalid") || !strings.Contains(errb.String(), "asking the agent at "+addr) {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	}

	wrongNode := filepath.Join(dir, "other.toml")
	os.WriteFile(wrongNode, []byte("http_listen = \""+addr+"\"\nnode_name = \"nyc-1\"\nbogus = 1\n"), 0o600)
	out.Reset()
	errb.Reset()
	if code := run([]string{"goavail", "status", "-f", wrongNode}, &out, &errb); code != exitRuntime || !strings.Contains(errb.String(), `is node "fra-1", not "nyc-1"`) {
		t.Errorf("the node check is lost on a broken config: exit %d\n%s", code, errb.String())
	}

	notTOML := filepath.Join(dir, "garbage.toml")
	os.WriteFile(notTOML, []byte("[Cloudflare\nhttp_listen = \n"), 0o600)
	errb.Reset()
	run([]string{"goavail", "status", "-f", notTOML, "--addr", addr}, &out, &errb)
	if strings.Contains(errb.String(), "is invalid") {
		t.Errorf("--addr given, yet the config was read: %s", errb.String())
	}
	errb.Reset()
	run([]string{"goavail", "status", "-f", notTOML}, &out, &errb) // whatever answers on the default address
	if !strings.Contains(errb.String(), "asking the agent at 127.0.0.1:9800 (the default address") || !strings.Contains(errb.String(), "pass --addr") {
		t.Errorf("not TOML: %s", errb.String())
	}
}
