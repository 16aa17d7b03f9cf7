package config

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// Providers are the values of a [[Records]] table's provider key.
const (
	ProviderCloudflare = "cloudflare"
	ProviderRFC2136    = "rfc2136"
)

// DefaultTSIGAlgorithm and DefaultRFC2136Timeout are the [RFC2136]
// block's defaults.
const (
	DefaultTSIGAlgorithm  = "hmac-sha256"
	DefaultRFC2136Timeout = 10 * time.Second
)

// RFC2136 is the [RFC2136] block: the server and TSIG key for the groups
// whose provider is "rfc2136". The TSIG secret is never in the file: it
// comes from GOAVAIL_TSIG_SECRET, the file GOAVAIL_TSIG_SECRET_FILE names,
// or the systemd credential tsig_secret.
type RFC2136 struct {
	// Server is the zone's primary, host:port (port 53 when left out).
	Server string `toml:"server"`
	// TSIGKeyName is the key's name as the server's key statement has it.
	TSIGKeyName string `toml:"tsig_key_name"`
	// TSIGAlgorithm is hmac-sha256 (default), hmac-sha512 or hmac-sha1.
	TSIGAlgorithm string `toml:"tsig_algorithm"`
	// Timeout bounds one exchange with the server (default 10s).
	Timeout Duration `toml:"timeout"`
	// TSIGSecret is refused: a secret never goes in the config file.
	TSIGSecret string `toml:"tsig_secret"`
}

// Providers are the DNS providers the groups name, each once, in the
// order of the groups.
func (c *Config) Providers() []string {
	var out []string
	for _, g := range c.Groups {
		if !slices.Contains(out, g.Provider) {
			out = append(out, g.Provider)
		}
	}
	return out
}

// ZoneProvider is the provider of zone's groups (validation makes them
// agree): "cloudflare" for a zone no group names.
func (c *Config) ZoneProvider(zone string) string {
	for _, g := range c.Groups {
		if g.Zone == zone {
			return g.Provider
		}
	}
	return ProviderCloudflare
}

// Hostnames are the managed hostnames of zone, over every group.
func (c *Config) Hostnames(zone string) []string {
	var out []string
	for _, g := range c.Groups {
		if g.Zone == zone {
			out = append(out, g.Hostnames...)
		}
	}
	return out
}

// groupProvider reads a [[Records]] table's provider key.
func groupProvider(p *string) (string, error) {
	if p == nil {
		return ProviderCloudflare, nil
	}
	switch v := strings.ToLower(strings.TrimSpace(*p)); v {
	case ProviderCloudflare, ProviderRFC2136, ProviderRoute53:
		return v, nil
	}
	return "", fmt.Errorf("provider = %q: must be \"cloudflare\" (the default), \"rfc2136\" or \"route53\"", *p)
}

func (c *Config) rfc2136Defaults() {
	r := &c.RFC2136
	if r.TSIGAlgorithm == "" {
		r.TSIGAlgorithm = DefaultTSIGAlgorithm
	}
	if r.Timeout == 0 {
		r.Timeout = Duration(DefaultRFC2136Timeout)
	}
	if r.Server != "" {
		if _, _, err := net.SplitHostPort(r.Server); err != nil && (net.ParseIP(r.Server) != nil || !strings.Contains(r.Server, ":")) {
			r.Server = net.JoinHostPort(r.Server, "53")
		}
	}
	if r.TSIGKeyName != "" {
		r.TSIGKeyName = strings.ToLower(strings.TrimSuffix(r.TSIGKeyName, ".")) + "."
	}
}

// rfc2136Validate checks the [RFC2136] block when a group uses it, and
// that the groups of one zone name one provider.
func (c *Config) rfc2136Validate() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	r := c.RFC2136
	if r.TSIGSecret != "" {
		bad("RFC2136.tsig_secret: the TSIG secret never goes in the config file; set GOAVAIL_TSIG_SECRET, GOAVAIL_TSIG_SECRET_FILE or the systemd credential tsig_secret, and remove the key")
	}
	used := false
	for i, g := range c.Groups {
		if j := slices.IndexFunc(c.Groups[:i], func(o Group) bool { return o.Zone == g.Zone }); j >= 0 && c.Groups[j].Provider != g.Provider {
			key := g.where + ".provider"
			if g.where == "Route53" || g.where == "Cloudflare" {
				key = "[" + g.where + "]" // the block is the provider: it has no provider key
			}
			other := c.Groups[j].where
			if other == "Route53" || other == "Cloudflare" {
				other = "[" + other + "]"
			}
			bad("%s: this group uses %q, but %s, in the same zone %s, uses %q; a zone lives at one provider", key, g.Provider, other, g.Zone, c.Groups[j].Provider)
		}
		if g.Provider != ProviderRFC2136 {
			continue
		}
		used = true
		if g.Proxied {
			bad("%s.dns_proxied: an RFC 2136 server has no proxy; set dns_proxied = false", g.where)
		}
	}
	if !used {
		return errs
	}
	if r.Server == "" {
		bad("RFC2136.server: missing; name the zone's primary, host:port, e.g. \"192.0.2.53:53\"")
	} else if host, port, err := net.SplitHostPort(r.Server); err != nil || host == "" || port == "" {
		bad("RFC2136.server = %q: must be host:port, e.g. \"192.0.2.53:53\"", r.Server)
	}
	if r.TSIGKeyName == "" {
		bad("RFC2136.tsig_key_name: missing; name the TSIG key the server grants updates to (BIND: the name in its key statement)")
	} else if err := checkDNSName(strings.TrimSuffix(r.TSIGKeyName, ".")); err != nil {
		bad("RFC2136.tsig_key_name = %q: %v", r.TSIGKeyName, err)
	}
	switch r.TSIGAlgorithm {
	case "hmac-sha256", "hmac-sha512", "hmac-sha1":
	default:
		bad("RFC2136.tsig_algorithm = %q: must be hmac-sha256 (the default), hmac-sha512 or hmac-sha1", r.TSIGAlgorithm)
	}
	if t := r.Timeout.D(); t < time.Second || t > time.Minute {
		bad("RFC2136.timeout = %s: must be from 1s to 1m", t)
	}
	return errs
}
