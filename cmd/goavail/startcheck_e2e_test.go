package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/internal/cfemu"
)

// TestE2E_RefusedTokenStopsTheStart runs the binary with --no-dry-run
// against the emulator: a token the API refuses (9109 invalid, 10000
// without permissions) and an API URL without /client/v4 stop the start
// with exit code 2 and a message naming the fix, where the agent used to
// run on while controlling nothing; an API that does not answer is a
// warning, and the agent runs.
func TestE2E_RefusedTokenStopsTheStart(t *testing.T) {
	bin := buildBinary(t)
	emu := cfemu.New()
	t.Cleanup(emu.Close)
	emu.AddZone("example.com")
	cfg := filepath.Join(t.TempDir(), "goavail.toml")
	if err := os.WriteFile(cfg, []byte(`http_listen = ""
interval = "200ms"
[Cloudflare]
dns_domain = "example.com"
hostnames = ["www"]
ip_addresses = ["127.0.0.1"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, base, token, want string }{
		{"invalid token", emu.BaseURL(), "not-the-token", "9109"},
		{"token without permissions", emu.BaseURL(), emu.NoPermToken, "10000"},
		{"API URL without /client/v4", emu.URL, emu.Token, "check the API URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // it used to run on
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "monitor", "--no-dry-run", "-f", cfg)
			cmd.Env = append(os.Environ(), "CLOUDFLARE_BASE_URL="+tc.base, "CLOUDFLARE_API_TOKEN="+tc.token)
			b, _ := cmd.CombinedOutput()
			out, code := string(b), cmd.ProcessState.ExitCode()
			if ctx.Err() != nil {
				t.Fatalf("still running after 30 s with a refused token:\n%s", out)
			}
			if code != exitConfig || !strings.Contains(out, "refused the check at start") || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want %d naming %q:\n%s", code, exitConfig, tc.want, out)
			}
		})
	}
	t.Run("API unreachable", func(t *testing.T) {
		a := &proc{logs: &syncBuffer{}, cfg: cfg}
		a.cmd = exec.Command(bin, "monitor", "--no-dry-run", "-f", cfg)
		a.cmd.Env = append(os.Environ(), "CLOUDFLARE_BASE_URL=http://"+freeAddr(t)+"/client/v4/", "CLOUDFLARE_API_TOKEN=t")
		a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
		if err := a.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.cmd.Process.Kill(); a.cmd.Wait() })
		eventually(t, "a warning, then the start", func() bool {
			s := a.logs.String()
			return strings.Contains(s, "could not check the dns credentials at start") && strings.Contains(s, "goavail started")
		}, a.logs)
		a.stop(t)
	})
}
