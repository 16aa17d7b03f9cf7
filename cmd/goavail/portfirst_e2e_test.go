package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2E_TakenPortBeforeICMP: run as nobody without any way to open an
// ICMP socket, and with http_listen taken, goavail fails on the port (the
// first thing it opens), naming the fix, and never gets to the sockets.
func TestE2E_TakenPortBeforeICMP(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv is not installed (make test-deps installs util-linux); cannot drop privileges for this test")
	}
	l := newE2ELab(t, 132, labOpts{hosts: 1, noEmulator: true})
	lab, h, bin := l.lab, l.hosts[0], l.bin
	cfg := filepath.Join(t.TempDir(), "goavail.toml")
	for _, dir := range []string{filepath.Dir(cfg), filepath.Dir(filepath.Dir(cfg))} {
		os.Chmod(dir, 0o755)
	}
	os.WriteFile(cfg, []byte(`http_listen = "127.0.0.1:9800"
[Cloudflare]
dns_domain = "example.com"
hostnames = ["www"]
ip_addresses = ["`+lab.Gateway().String()+`"]
`), 0o644)
	// Another goavail (as root) holds the port inside the host's namespace.
	holder := &proc{logs: &syncBuffer{}}
	holder.cmd = exec.Command("ip", "netns", "exec", h.NS, bin, "monitor", cfg)
	holder.cmd.Stdout, holder.cmd.Stderr = holder.logs, holder.logs
	if err := holder.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.cmd.Process.Kill(); holder.cmd.Wait() })
	eventually(t, "the first agent holds the port", func() bool { return strings.Contains(holder.logs.String(), "goavail started") }, holder.logs)

	out, err := exec.Command("ip", "netns", "exec", h.NS, setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin, "monitor", cfg).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitRuntime {
		t.Fatalf("exit %v, want %d:\n%s", err, exitRuntime, out)
	}
	if !strings.Contains(string(out), "the port is taken") || !strings.Contains(string(out), `set http_listen to a free port, or to ""`) {
		t.Errorf("the error does not name the taken port and the fix:\n%s", out)
	}
	if strings.Contains(string(out), "CAP_NET_RAW") || strings.Contains(string(out), "ping_group_range") {
		t.Errorf("goavail opened (or tried) the ICMP sockets before the port:\n%s", out)
	}
}
