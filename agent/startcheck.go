package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/dns"
)

// startCheckBound bounds the credential check at start, whatever the
// number of zones: past it goavail starts and lets the passes retry.
const startCheckBound = 30 * time.Second

// zoneChecker is a provider that can look its zones up without changing
// anything (the Cloudflare adapter's CheckZones).
type zoneChecker interface {
	CheckZones(ctx context.Context, zones []string) error
}

// checkCredentials looks every configured zone up through the provider
// before the agent starts. A definite refusal (a refused token, no such
// zone, a wrong API URL) is a *ConfigError with --no-dry-run, so that the
// unit fails at once instead of running while controlling nothing; a dry
// run logs it and goes on, as it changes nothing. An API that merely does
// not answer is a warning: the passes retry it.
func checkCredentials(ctx context.Context, p dns.Provider, cfg *config.Config, dryRun bool, log *slog.Logger) error {
	zc, ok := p.(zoneChecker)
	if !ok {
		return nil
	}
	var zones []string
	for _, g := range dnsGroups(cfg) {
		zones = append(zones, g.Zone)
	}
	slices.Sort(zones)
	zones = slices.Compact(zones)
	ctx, cancel := context.WithTimeout(ctx, startCheckBound)
	defer cancel()
	err := zc.CheckZones(ctx, zones)
	if err == nil {
		log.Info("dns credentials checked: every zone found", "zones", zones)
		return nil
	}
	if refused(err) {
		if dryRun {
			log.Error("the DNS API refused the check at start; a dry run goes on, --no-dry-run would stop here", "err", err)
			return nil
		}
		return &ConfigError{fmt.Errorf("the DNS API refused the check at start (the zone lookup of %v): %w", zones, err)}
	}
	log.Warn("could not check the dns credentials at start: the API did not answer; starting anyway, the passes retry", "err", err)
	return nil
}

// refused reports whether any zone's error is a definite refusal.
func refused(err error) bool {
	var perm *dns.PermanentError
	return errors.As(err, &perm)
}
