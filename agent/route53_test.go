package agent

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/dns/route53"
)

// TestNewRoute53_DryRunCredentials: the original's [Route53] block builds
// the Route 53 provider; dry-run without credentials anywhere in the SDK's
// chain plans against the config (nil provider, a warning) as for the
// other providers; with credentials in the environment it is built.
func TestNewRoute53_DryRunCredentials(t *testing.T) {
	cfg, err := config.Parse(`
[Route53]
aws_domain = "example.com"
aws_zoneid = "Z0123456789ABC"
hostnames = ["www"]
ip_addresses = ["192.0.2.1"]
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	creds := t.TempDir()
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	noop := func(string, error, time.Duration) {}
	names := func(string) []string { return []string{"www.example.com"} }
	p, err := newRoute53(cfg, true, os.Getenv, log, noop, names)
	if err != nil || p != nil || !strings.Contains(logs.String(), "no AWS credentials: dry-run plans") {
		t.Fatalf("dry-run without credentials: %v, %v; logs %s", p, err, logs.String())
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	p, err = newRoute53(cfg, true, os.Getenv, log, noop, names)
	if _, ok := p.(*route53.Provider); err != nil || !ok {
		t.Fatalf("dry-run with credentials: %T, %v", p, err)
	}
	// The systemd credential aws_credentials is a shared credentials file
	// the chain reads (the environment's keys unset).
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if err := os.WriteFile(filepath.Join(creds, "aws_credentials"), []byte("[default]\naws_access_key_id = AKIAFROMCRED\naws_secret_access_key = s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	p, err = newRoute53(cfg, true, os.Getenv, log, noop, names)
	if _, ok := p.(*route53.Provider); err != nil || !ok {
		t.Fatalf("dry-run with the credential aws_credentials: %T, %v; logs %s", p, err, logs.String())
	}
}

// TestProviderLines_Route53: validate says where the AWS SDK's chain would
// find credentials, from the environment and the shared files only, and
// never prints a secret or the whole key id.
func TestProviderLines_Route53(t *testing.T) {
	cfg, err := config.Parse("[Route53]\naws_domain = \"example.com\"\nhostnames = [\"www\"]\nip_addresses = [\"192.0.2.1\"]\naws_region = \"eu-west-1\"\n")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	env := map[string]string{"HOME": home}
	getenv := func(k string) string { return env[k] }
	line := func() string {
		t.Helper()
		lines, err := ProviderLines(cfg, getenv)
		if err != nil || len(lines) != 1 {
			t.Fatalf("lines %q, err %v; want one line", lines, err)
		}
		return lines[0]
	}
	if l := line(); !strings.Contains(l, "region eu-west-1") || !strings.Contains(l, "monitor --no-dry-run will refuse to start") {
		t.Errorf("no credentials: %q", l)
	}
	if err := os.MkdirAll(filepath.Join(home, ".aws"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".aws", "credentials"), []byte("[ops]\naws_access_key_id = AKIA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env["AWS_PROFILE"] = "ops"
	if l := line(); !strings.Contains(l, "the shared files") || !strings.Contains(l, "profile ops") {
		t.Errorf("shared file: %q", l)
	}
	env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	l := line()
	if !strings.Contains(l, "the environment (AWS_ACCESS_KEY_ID AKIA…MPLE)") || strings.Contains(l, "wJalr") || strings.Contains(l, "IOSFODNN7") {
		t.Errorf("environment: %q", l)
	}
}
