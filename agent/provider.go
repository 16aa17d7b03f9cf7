package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/dns/cloudflare"
	"github.com/goavail/goavail/dns/rfc2136"
	"github.com/goavail/goavail/dns/route53"
)

// newProvider builds the providers the config's groups name: the one
// provider, or a dns.ZoneMux that sends each zone's calls to its own
// (zoneProvider says which, as the running config has it). It returns nil
// (plan against the config, never write) when dry-run lacks the
// credentials of any of them. names gives a zone's managed hostnames as
// the running config has them.
func newProvider(cfg *config.Config, dryRun bool, getenv func(string) string, log *slog.Logger, observe func(string, error, time.Duration),
	names func(string) []string, zoneProvider func(string) string) (dns.Provider, error) {
	kinds := cfg.Providers()
	if len(kinds) == 0 {
		kinds = []string{config.ProviderCloudflare}
	}
	built := map[string]dns.Provider{}
	for _, k := range kinds {
		var p dns.Provider
		var err error
		switch k {
		case config.ProviderRFC2136:
			p, err = newRFC2136(cfg, dryRun, getenv, log, observe, names)
		case config.ProviderCloudflare:
			p, err = newCloudflare(cfg, dryRun, getenv, log, observe)
		case config.ProviderRoute53:
			p, err = newRoute53(cfg, dryRun, getenv, log, observe, names)
		default:
			return nil, fmt.Errorf("provider %q: this build cannot write to it", k)
		}
		if err != nil || p == nil {
			return nil, err
		}
		built[k] = p
	}
	if len(built) == 1 {
		return built[kinds[0]], nil
	}
	log.Info("dns providers: each zone at its own", "providers", kinds)
	return &dns.ZoneMux{Providers: built, Of: zoneProvider}, nil
}

// newCloudflare builds the Cloudflare adapter, or nil when dry-run has no
// credentials.
func newCloudflare(cfg *config.Config, dryRun bool, getenv func(string) string, log *slog.Logger, observe func(string, error, time.Duration)) (dns.Provider, error) {
	creds := credentials(getenv)
	if creds.Empty() {
		if !dryRun {
			return nil, errors.New("--no-dry-run needs Cloudflare credentials: set CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL)")
		}
		log.Warn("no Cloudflare credentials: dry-run plans as if every configured record exists")
		return nil, nil
	}
	base := cfg.Cloudflare.APIBaseURL
	if env := getenv("CLOUDFLARE_BASE_URL"); env != "" {
		base = env
	}
	cf, err := cloudflare.New(cloudflare.Options{BaseURL: base, Credentials: creds, BatchSize: cfg.Cloudflare.BatchSize, RequestTimeout: cfg.Cloudflare.RequestTimeout.D(),
		AccountID: cfg.Cloudflare.AccountID, FenceLabel: cfg.FenceName, Observe: observe})
	if err != nil {
		return nil, err
	}
	return cf, nil
}

// newRFC2136 builds the RFC 2136 provider from the [RFC2136] block and the
// TSIG secret (never from the config file: see TSIGSecret).
func newRFC2136(cfg *config.Config, dryRun bool, getenv func(string) string, log *slog.Logger, observe func(string, error, time.Duration), names func(string) []string) (dns.Provider, error) {
	r := cfg.RFC2136
	secret, from, err := TSIGSecret(getenv)
	if err != nil {
		return nil, fmt.Errorf("TSIG key %s: %w", r.TSIGKeyName, err)
	}
	if secret == "" {
		if !dryRun {
			return nil, fmt.Errorf("--no-dry-run needs the secret of TSIG key %s: set GOAVAIL_TSIG_SECRET, GOAVAIL_TSIG_SECRET_FILE or the systemd credential tsig_secret", r.TSIGKeyName)
		}
		log.Warn("no TSIG secret: dry-run plans as if every configured record exists", "key", r.TSIGKeyName)
		return nil, nil
	}
	p, err := rfc2136.New(rfc2136.Options{Server: r.Server, KeyName: r.TSIGKeyName, Algorithm: r.TSIGAlgorithm, Secret: secret,
		Names: names, FenceLabel: cfg.FenceName, Timeout: r.Timeout.D(), Observe: observe})
	if err != nil {
		return nil, fmt.Errorf("RFC2136: %w", err)
	}
	log.Info("dns provider: RFC 2136 dynamic updates", "server", r.Server, "key", r.TSIGKeyName, "algorithm", r.TSIGAlgorithm, "secret_from", from)
	return p, nil
}

// newRoute53 builds the Route 53 provider from the [Route53] block. The
// credentials come from the AWS SDK's default chain (environment, shared
// files, instance role) when the first call needs them, never from the
// config file; the endpoint from the SDK's own settings
// (AWS_ENDPOINT_URL_ROUTE_53). Groups from the original's [Route53] block
// get weighted sets (Group.Weighted). Dry-run without credentials the
// chain can find returns nil (plan against the config), as for the
// other providers.
func newRoute53(cfg *config.Config, dryRun bool, getenv func(string) string, log *slog.Logger, observe func(string, error, time.Duration), names func(string) []string) (dns.Provider, error) {
	r := cfg.Route53
	weighted := map[string]bool{} // zone|hostname
	for _, g := range cfg.Groups {
		if g.Provider == config.ProviderRoute53 && g.Weighted {
			for _, h := range g.Hostnames {
				weighted[g.Zone+"|"+h] = true
			}
		}
	}
	p, err := route53.New(context.Background(), route53.Options{Region: r.AWSRegion, ZoneIDs: cfg.Route53ZoneIDs(), Names: names, SharedCredentialsFile: awsCredentialsFile(getenv),
		Weighted: func(zone, name string) bool { return weighted[zone+"|"+name] }, FenceLabel: cfg.FenceName, Timeout: r.Timeout.D(), Observe: observe})
	if err != nil {
		return nil, fmt.Errorf("Route53: %w", err)
	}
	if dryRun {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.CredentialsFound(ctx); err != nil {
			log.Warn("no AWS credentials: dry-run plans as if every configured record exists", "err", err)
			return nil, nil
		}
	}
	log.Info("dns provider: Amazon Route 53", "region", r.AWSRegion, "zone_ids", cfg.Route53ZoneIDs(), "credentials", "the AWS SDK's default chain")
	return p, nil
}

// ProviderLines checks the provider's credentials as `goavail validate`
// shows them: where the secret comes from (never the secret), or a
// warning when there is none. An error names the key at fault.
func ProviderLines(cfg *config.Config, getenv func(string) string) ([]string, error) {
	var out []string
	if slices.Contains(cfg.Providers(), config.ProviderRoute53) {
		out = append(out, route53Line(cfg, getenv))
	}
	if !slices.Contains(cfg.Providers(), config.ProviderRFC2136) {
		return out, nil
	}
	lines, err := rfc2136Lines(cfg, getenv)
	return append(out, lines...), err
}

// route53Line says where the AWS SDK's default chain would find
// credentials, from the environment alone: validate sends nothing (the
// instance role would be asked of the metadata service).
func route53Line(cfg *config.Config, getenv func(string) string) string {
	from := "none in the environment or the shared files: the instance's role (EC2, ECS) if it has one, else monitor --no-dry-run will refuse to start"
	home := getenv("HOME")
	shared := cmp.Or(getenv("AWS_SHARED_CREDENTIALS_FILE"), filepath.Join(home, ".aws", "credentials"))
	cfgFile := cmp.Or(getenv("AWS_CONFIG_FILE"), filepath.Join(home, ".aws", "config"))
	profile := cmp.Or(getenv("AWS_PROFILE"), "default")
	switch {
	case getenv("AWS_ACCESS_KEY_ID") != "" && getenv("AWS_SECRET_ACCESS_KEY") != "":
		from = "the environment (AWS_ACCESS_KEY_ID " + redactKeyID(getenv("AWS_ACCESS_KEY_ID")) + ")"
	case getenv("AWS_WEB_IDENTITY_TOKEN_FILE") != "" && getenv("AWS_ROLE_ARN") != "":
		from = "web identity (AWS_ROLE_ARN " + getenv("AWS_ROLE_ARN") + ")"
	case awsCredentialsFile(getenv) != "":
		from = "the systemd credential aws_credentials (" + awsCredentialsFile(getenv) + ", a shared credentials file), profile " + profile
	case fileExists(shared) || fileExists(cfgFile):
		from = "the shared files (" + shared + ", " + cfgFile + "), profile " + profile
	}
	return fmt.Sprintf("Route53: region %s, credentials from %s (secrets redacted)", cfg.Route53.AWSRegion, from)
}

// redactKeyID keeps an access key id's first 4 and last 4 characters.
func redactKeyID(id string) string {
	if len(id) <= 8 {
		return "<redacted>"
	}
	return id[:4] + "…" + id[len(id)-4:]
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

func rfc2136Lines(cfg *config.Config, getenv func(string) string) ([]string, error) {
	r := cfg.RFC2136
	secret, from, err := TSIGSecret(getenv)
	if err != nil {
		return nil, fmt.Errorf("RFC2136: TSIG key %s: %w", r.TSIGKeyName, err)
	}
	if secret == "" {
		return []string{fmt.Sprintf("warning: no secret for TSIG key %s: monitor --no-dry-run will refuse to start; set GOAVAIL_TSIG_SECRET, GOAVAIL_TSIG_SECRET_FILE or the systemd credential tsig_secret", r.TSIGKeyName)}, nil
	}
	if _, err := rfc2136.New(rfc2136.Options{Server: r.Server, KeyName: r.TSIGKeyName, Algorithm: r.TSIGAlgorithm, Secret: secret, Names: func(string) []string { return nil }}); err != nil {
		return nil, fmt.Errorf("RFC2136: %w", err)
	}
	return []string{fmt.Sprintf("RFC2136: TSIG key %s (%s), secret from %s (redacted)", r.TSIGKeyName, r.TSIGAlgorithm, from)}, nil
}

// awsCredentialsFile is the systemd credential aws_credentials (a shared
// credentials file, as ~/.aws/credentials), when there is one: the
// default chain reads it instead of ~/.aws/credentials.
func awsCredentialsFile(getenv func(string) string) string {
	dir := credentialsDir(getenv)
	if dir == "" {
		return ""
	}
	for _, name := range []string{"aws_credentials", "goavail_aws_credentials"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	return ""
}
