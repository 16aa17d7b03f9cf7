package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/dns"
)

// CheckAPI is validate --check-api: with the credentials goavail would
// use, it looks every configured zone up (the check at start) and lists
// the managed records, reporting each zone and every record whose ttl or
// proxied flag differs from the config (dns.Drift). It changes nothing. A
// *ConfigError means the API refused (credentials, zone, API URL); any
// other error that it could not be asked.
func CheckAPI(ctx context.Context, cfg *config.Config, getenv func(string) string) ([]string, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := newProvider(cfg, false, getenv, log, nil, cfg.Hostnames, cfg.ZoneProvider)
	if err != nil {
		return nil, &ConfigError{fmt.Errorf("--check-api: %w", err)}
	}
	if err := checkCredentials(ctx, p, cfg, false, log); err != nil {
		return nil, err
	}
	groups := dnsGroups(cfg)
	var out []string
	for _, zone := range zonesOf(groups) {
		var zg []dns.Group
		for _, g := range groups {
			if g.Zone == zone {
				zg = append(zg, g)
			}
		}
		recs, err := p.Records(ctx, zone, dns.Types(zg))
		if err != nil {
			if refused(err) {
				return out, &ConfigError{err}
			}
			return out, err
		}
		drift := dns.Drift(zg, recs)
		out = append(out, fmt.Sprintf("zone %s: found; %d A/AAAA records listed; %d managed records differ from the config in ttl/proxied", zone, len(recs), len(drift)))
		for _, d := range drift {
			out = append(out, "  "+d)
		}
	}
	return out, nil
}

// zonesOf lists the groups' zones once each, in order.
func zonesOf(groups []dns.Group) []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range groups {
		if !seen[g.Zone] {
			seen[g.Zone] = true
			out = append(out, g.Zone)
		}
	}
	return out
}
