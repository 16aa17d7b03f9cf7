package agent

import (
	"errors"
	"log/slog"
	"time"

	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/dns/cloudflare"
)

// newProvider builds the Cloudflare adapter, or nil (plan against the
// config, never write) when dry-run has no credentials.
func newProvider(cfg *config.Config, dryRun bool, getenv func(string) string, log *slog.Logger, observe func(string, error, time.Duration)) (dns.Provider, error) {
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
