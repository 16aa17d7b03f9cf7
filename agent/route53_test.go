package agent

import (
	"bytes"
	"log/slog"
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
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	noop := func(string, error, time.Duration) {}
	names := func(string) []string { return []string{"www.example.com"} }
	p, err := newRoute53(cfg, true, log, noop, names)
	if err != nil || p != nil || !strings.Contains(logs.String(), "no AWS credentials: dry-run plans") {
		t.Fatalf("dry-run without credentials: %v, %v; logs %s", p, err, logs.String())
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	p, err = newRoute53(cfg, true, log, noop, names)
	if _, ok := p.(*route53.Provider); err != nil || !ok {
		t.Fatalf("dry-run with credentials: %T, %v", p, err)
	}
}
