package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goavail/goavail/config"
)

// TestTSIGSecret_Sources: the secret comes from the environment first,
// then the file GOAVAIL_TSIG_SECRET_FILE names (a bare secret or BIND's
// key statement), then the systemd credential tsig_secret.
func TestTSIGSecret_Sources(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "goavail.key")
	os.WriteFile(keyFile, []byte("key \"goavail\" {\n\talgorithm hmac-sha256;\n\tsecret \"a2V5LWZpbGU=\";\n};\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "goavail_tsig_secret"), []byte("Y3JlZA==\n"), 0o600)
	env := map[string]string{"CREDENTIALS_DIRECTORY": dir}
	getenv := func(k string) string { return env[k] }
	check := func(wantSecret, wantFrom string) {
		t.Helper()
		s, from, err := TSIGSecret(getenv)
		if err != nil || s != wantSecret || !strings.HasPrefix(from, wantFrom) {
			t.Errorf("TSIGSecret = %q from %q, %v; want %q from %s", s, from, err, wantSecret, wantFrom)
		}
	}
	check("Y3JlZA==", "credential tsig_secret")
	env["GOAVAIL_TSIG_SECRET_FILE"] = keyFile
	check("a2V5LWZpbGU=", "GOAVAIL_TSIG_SECRET_FILE")
	env["GOAVAIL_TSIG_SECRET"] = " ZW52 "
	check("ZW52", "GOAVAIL_TSIG_SECRET")
	delete(env, "GOAVAIL_TSIG_SECRET")
	env["GOAVAIL_TSIG_SECRET_FILE"] = filepath.Join(dir, "missing")
	if _, _, err := TSIGSecret(getenv); err == nil {
		t.Error("an unreadable GOAVAIL_TSIG_SECRET_FILE was ignored")
	}
	if s, from, err := TSIGSecret(func(string) string { return "" }); s != "" || from != "" || err != nil {
		t.Errorf("no secret anywhere = %q from %q, %v", s, from, err)
	}
}

// TestProviderLines_RFC2136: validate says where the secret comes from,
// never the secret; no secret is a warning; a secret that is not base64
// is an error naming the key.
func TestProviderLines_RFC2136(t *testing.T) {
	cfg, err := config.Parse(`
[[Records]]
provider = "rfc2136"
dns_domain = "example.com"
hostnames = ["www"]
ip_addresses = ["192.0.2.1"]

[RFC2136]
server = "192.0.2.53"
tsig_key_name = "goavail"
`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RFC2136.Server != "192.0.2.53:53" || cfg.RFC2136.TSIGKeyName != "goavail." {
		t.Errorf("[RFC2136] as read = %+v, want port 53 and a fully qualified key name", cfg.RFC2136)
	}
	env := map[string]string{"CREDENTIALS_DIRECTORY": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	lines, err := ProviderLines(cfg, getenv)
	if err != nil || len(lines) != 1 || !strings.Contains(lines[0], "no secret for TSIG key goavail.") {
		t.Errorf("no secret: %q, %v", lines, err)
	}
	env["GOAVAIL_TSIG_SECRET"] = "c2VjcmV0LXZhbHVl"
	lines, err = ProviderLines(cfg, getenv)
	if err != nil || len(lines) != 1 || !strings.Contains(lines[0], "secret from GOAVAIL_TSIG_SECRET") || strings.Contains(strings.Join(lines, ""), "c2VjcmV0LXZhbHVl") {
		t.Errorf("with a secret: %q, %v", lines, err)
	}
	if !strings.Contains(cfg.Effective(), "[RFC2136]") || strings.Contains(cfg.Effective(), "secret") {
		t.Errorf("effective config:\n%s", cfg.Effective())
	}
	env["GOAVAIL_TSIG_SECRET"] = "not base64!"
	if _, err := ProviderLines(cfg, getenv); err == nil || !strings.Contains(err.Error(), "TSIG key goavail.") {
		t.Errorf("a secret that is not base64: %v, want an error naming the key", err)
	}
}
