package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goavail/goavail/agent"
)

// runCLI runs the built binary with args and extra environment.
func runCLI(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// TestE2E_DrainUndrain: with an API token, goavail drain takes an address
// that answers out of DNS (logged, notified, shown by status with who and
// why); draining the hostname's last address is refused without --force;
// the drain survives a restart; undrain puts the record back. Without a
// token the endpoints are off, and a wrong token is refused.
func TestE2E_DrainUndrain(t *testing.T) {
	l := newE2ELab(t, 130, labOpts{seedTTL: 60})
	a, b, bin, emu := l.hosts[0], l.hosts[1], l.bin, l.emu
	addr := freeAddr(t)
	dir := t.TempDir()
	hookOut := filepath.Join(dir, "hook.env")
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("t0ken-for-drains\n"), 0o600)
	cfg := "node_name = \"drainer\"\nstate_file = \"" + filepath.Join(dir, "state.json") + "\"\n" + labConfig(addr, a, b) +
		"\n[[Hooks]]\ncommand = [\"/bin/sh\", \"-c\", \"env | grep ^GOAVAIL_ | sort >> \\\"$0\\\"\", \"" + hookOut + "\"]\nevents = [\"drain\"]\n"
	cfgPath := filepath.Join(dir, "goavail.toml")
	os.WriteFile(cfgPath, []byte(cfg), 0o600)
	tokenEnv := []string{"GOAVAIL_API_TOKEN_FILE=" + tokenFile}

	// Without a token the API is off.
	ag := l.start(cfg, "--no-dry-run")
	eventually(t, "both hosts up", bothUp(ag, a, b), ag.logs)
	out, code := runCLI(t, bin, tokenEnv, "drain", "-f", cfgPath, a.V4.String())
	if code != exitRuntime || !strings.Contains(out, "the drain API is off") {
		t.Errorf("drain against an agent without a token: exit %d: %s", code, out)
	}
	ag.stop(t)

	t.Setenv("GOAVAIL_API_TOKEN_FILE", tokenFile)
	ag = l.start(cfg, "--no-dry-run")
	eventually(t, "both hosts up", bothUp(ag, a, b), ag.logs)
	eventually(t, "both agreed up", func() bool {
		js, _ := runCLI(t, bin, nil, "status", "-f", cfgPath, "--json")
		var doc agent.StatusDoc
		json.Unmarshal([]byte(js), &doc)
		up := 0
		for _, tg := range doc.Targets {
			if tg.Agreed == "up" {
				up++
			}
		}
		return up == 2
	}, ag.logs)

	if out, code := runCLI(t, bin, []string{"GOAVAIL_API_TOKEN=wrong"}, "drain", "-f", cfgPath, a.V4.String()); code != exitRuntime || !strings.Contains(out, "wrong or missing API token") {
		t.Errorf("wrong token: exit %d: %s", code, out)
	}
	out, code = runCLI(t, bin, tokenEnv, "drain", "-f", cfgPath, a.V4.String(), "--reason", "kernel upgrade") // flags after the address work too
	if code != 0 || !strings.Contains(out, "drained by") {
		t.Fatalf("drain: exit %d: %s", code, out)
	}
	eventually(t, "a's record removed though a answers", func() bool { return !has(emu, "www.example.com", "A", a.V4.String()) }, ag.logs)
	if !has(emu, "www.example.com", "A", b.V4.String()) {
		t.Errorf("b's record went too")
	}
	// b is now the last address in DNS: refused, then forced.
	out, code = runCLI(t, bin, tokenEnv, "drain", "-f", cfgPath, b.V4.String())
	if code != exitRuntime || !strings.Contains(out, "would leave www.example.com with no address in DNS") || !strings.Contains(out, "--force") {
		t.Errorf("draining the last address: exit %d: %s", code, out)
	}
	if !has(emu, "www.example.com", "A", b.V4.String()) {
		t.Fatalf("a refused drain removed b's record")
	}

	status, _ := runCLI(t, bin, nil, "status", "-f", cfgPath)
	if !strings.Contains(status, "drained (out of DNS on purpose)") || !strings.Contains(status, "kernel upgrade") {
		t.Errorf("status does not show the drain:\n%s", status)
	}
	js, _ := runCLI(t, bin, nil, "status", "-f", cfgPath, "--json")
	var doc agent.StatusDoc
	if err := json.Unmarshal([]byte(js), &doc); err != nil || len(doc.Drains) != 1 || doc.Drains[0].Reason != "kernel upgrade" {
		t.Errorf("status --json drains: %v %+v", err, doc.Drains)
	}
	for _, tg := range doc.Targets {
		if tg.Addr == a.V4.String() && (!tg.Drained || tg.State != "up") {
			t.Errorf("drained target shown as %+v, want still probed (up) and drained", tg)
		}
	}
	if m := get(t, "http://"+addr+"/metrics"); !strings.Contains(m, `goavail_target_drained{address="`+a.V4.String()+`",source="api"} 1`) {
		t.Errorf("/metrics lacks the drain:\n%s", m)
	}
	eventually(t, "the drain was notified", func() bool {
		b, _ := os.ReadFile(hookOut)
		return strings.Contains(string(b), "GOAVAIL_EVENT=drain") && strings.Contains(string(b), "GOAVAIL_REASON=kernel upgrade")
	}, ag.logs)

	// A restart keeps the drain.
	ag.stop(t)
	ag = l.start(cfg, "--no-dry-run")
	eventually(t, "drains loaded after a restart", func() bool { return strings.Contains(ag.logs.String(), "drains loaded") }, ag.logs)
	eventually(t, "both hosts up again", bothUp(ag, a, b), ag.logs)
	out, _ = runCLI(t, bin, nil, "status", "-f", cfgPath)
	if !strings.Contains(out, "kernel upgrade") {
		t.Errorf("the drain did not survive the restart:\n%s", out)
	}
	if has(emu, "www.example.com", "A", a.V4.String()) {
		t.Errorf("a's record came back after the restart")
	}

	out, code = runCLI(t, bin, tokenEnv, "undrain", "-f", cfgPath, a.V4.String())
	if code != 0 || !strings.Contains(out, "undrained") {
		t.Fatalf("undrain: exit %d: %s", code, out)
	}
	eventually(t, "a's record back", func() bool { return has(emu, "www.example.com", "A", a.V4.String()) }, ag.logs)

	// The config's drain key, applied on reload; the API cannot undrain it.
	withDrain := strings.Replace(cfg, "comment = \"goavail e2e\"\n", "comment = \"goavail e2e\"\ndrain = [\""+a.V4.String()+"\"]\n", 1)
	if withDrain == cfg {
		t.Fatal("could not add the drain key")
	}
	os.WriteFile(ag.cfg, []byte(withDrain), 0o600)
	os.WriteFile(cfgPath, []byte(withDrain), 0o600)
	if code, body := post(t, "http://"+addr+"/-/reload"); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	eventually(t, "a's record removed by the config's drain", func() bool { return !has(emu, "www.example.com", "A", a.V4.String()) }, ag.logs)
	out, code = runCLI(t, bin, tokenEnv, "undrain", "-f", cfgPath, a.V4.String())
	if code != exitRuntime || !strings.Contains(out, "drained by the config file") {
		t.Errorf("undrain of a config drain: exit %d: %s", code, out)
	}
	ag.stop(t)
}
