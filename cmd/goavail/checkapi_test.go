package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goavail/goavail/internal/cfemu"
)

// TestValidate_CheckAPI: validate --check-api asks the emulator with the
// credentials monitor would use: it finds the zone and names each managed
// record whose ttl or proxied flag differs from the config (plain
// validate cannot see the zone); a refused token exits 2.
func TestValidate_CheckAPI(t *testing.T) {
	unsetenv(t, "GOAVAIL_CONFIG", "CREDENTIALS_DIRECTORY", "CLOUDFLARE_API_KEY", "CF_API_KEY", "STATE_DIRECTORY")
	emu := cfemu.New()
	t.Cleanup(emu.Close)
	emu.AddZone("example.com")
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.10", TTL: 300})
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.11", TTL: 60})
	cfg := filepath.Join(t.TempDir(), "goavail.toml")
	os.WriteFile(cfg, []byte("[Cloudflare]\ndns_domain = \"example.com\"\nhostnames = [\"www\"]\nttl = 60\nip_addresses = [\"192.0.2.10\", \"192.0.2.11\"]\n"), 0o600)
	t.Setenv("CLOUDFLARE_BASE_URL", emu.BaseURL())

	t.Setenv("CLOUDFLARE_API_TOKEN", emu.Token)
	var out, errb bytes.Buffer
	if code := run([]string{"goavail", "validate", "--check-api", cfg}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"# api: zone example.com: found; 2 A/AAAA records listed; 1 managed records differ", "# api:   www.example.com A 192.0.2.10: ttl 300 (config 60)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "192.0.2.11:") {
		t.Errorf("a record as configured reported:\n%s", out.String())
	}
	if n := len(emu.Requests()); n != 2 { // the zone lookup and one listing: nothing written
		t.Errorf("%d requests, want 2", n)
	}

	t.Setenv("CLOUDFLARE_API_TOKEN", "wrong")
	out.Reset()
	errb.Reset()
	if code := run([]string{"goavail", "validate", "--check-api", cfg}, &out, &errb); code != exitConfig || !strings.Contains(errb.String(), "9109") {
		t.Errorf("a refused token: exit %d: %s", code, errb.String())
	}
}
