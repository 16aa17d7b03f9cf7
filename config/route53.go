package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ProviderRoute53 is the provider key's value for zones hosted in Amazon
// Route 53.
const ProviderRoute53 = "route53"

// DefaultRoute53Timeout bounds one Route 53 API call when [Route53] sets
// no timeout.
const DefaultRoute53Timeout = 10 * time.Second

// Route53 is the [Route53] block. It holds the Route 53 settings of every
// group whose provider is "route53", and, in the original goavail's
// meaning, a record group of its own: aws_domain, hostnames, ip_addresses
// and ttl. The original wrote weighted record sets (the set identifier is
// the hostname's first label, weight 0); such a group keeps writing them
// (Group.Weighted). AWS credentials never go in the file: they come from
// the AWS SDK's default chain (environment, shared files, instance role).
type Route53 struct {
	// AWSDomain is the hosted zone's name (the original's key): with
	// hostnames and ip_addresses it makes a record group.
	AWSDomain   string   `toml:"aws_domain"`
	Hostnames   []string `toml:"hostnames"`
	IPAddresses []string `toml:"ip_addresses"`
	TTL         *int     `toml:"ttl"`
	// AWSRegion is the region the SDK signs for; Route 53 is global, so
	// any region works (default us-east-1, or AWS_REGION).
	AWSRegion string `toml:"aws_region"`
	// AWSZoneID is the hosted zone id of aws_domain (e.g. Z0123456789ABC),
	// which saves a lookup and tells a public zone from a private one of
	// the same name; without it goavail looks the zone up by name.
	AWSZoneID string `toml:"aws_zoneid"`
	// Timeout bounds one API call (default 10s).
	Timeout Duration `toml:"timeout"`
}

// used reports whether the block names a record group of its own.
func (r Route53) used() bool {
	return r.AWSDomain != "" || len(r.Hostnames) > 0 || len(r.IPAddresses) > 0
}

// Route53ZoneIDs are the hosted zone ids the config names, by zone.
func (c *Config) Route53ZoneIDs() map[string]string {
	out := map[string]string{}
	if c.Route53.AWSZoneID != "" && c.Route53.AWSDomain != "" {
		out[normalizeName(c.Route53.AWSDomain)] = c.Route53.AWSZoneID
	}
	return out
}

// route53Group is the [Route53] block's record group, as a [[Records]]
// table would write it.
func (c *Config) route53Group() (RecordGroup, bool) {
	r := c.Route53
	if !r.used() {
		return RecordGroup{}, false
	}
	p := ProviderRoute53
	proxied := false
	return RecordGroup{DNSDomain: r.AWSDomain, Hostnames: r.Hostnames, IPAddresses: r.IPAddresses, TTL: r.TTL, DNSProxied: &proxied, Provider: &p}, true
}

func (c *Config) route53Defaults() {
	if c.Route53.Timeout == 0 {
		c.Route53.Timeout = Duration(DefaultRoute53Timeout)
	}
	if c.Route53.AWSRegion == "" {
		c.Route53.AWSRegion = "us-east-1"
	}
	// The original took the zone id with its "/hostedzone/" prefix too.
	c.Route53.AWSZoneID = strings.TrimPrefix(strings.TrimSpace(c.Route53.AWSZoneID), "/hostedzone/")
}

var (
	zoneIDRe = regexp.MustCompile(`^Z[0-9A-Z]{1,31}$`)
	regionRe = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// route53Validate checks the [Route53] block when a group uses Route 53.
func (c *Config) route53Validate() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	r := c.Route53
	if !slices.ContainsFunc(c.Groups, func(g Group) bool { return g.Provider == ProviderRoute53 }) {
		if r.AWSZoneID != "" {
			bad("Route53.aws_zoneid: no group uses Route 53; set aws_domain, hostnames and ip_addresses in [Route53], or provider = \"route53\" in a [[Records]] table")
		}
		return errs
	}
	for _, g := range c.Groups {
		if g.Provider == ProviderRoute53 && g.Proxied {
			bad("%s.dns_proxied: Route 53 has no proxy; set dns_proxied = false", g.where)
		}
	}
	if r.AWSZoneID != "" && !zoneIDRe.MatchString(r.AWSZoneID) {
		bad("Route53.aws_zoneid = %q: not a hosted zone id; it looks like Z0123456789ABCDEFGHIJ (the Route 53 console's \"Hosted zone ID\")", r.AWSZoneID)
	}
	if r.AWSZoneID != "" && r.AWSDomain == "" {
		bad("Route53.aws_zoneid: set aws_domain too, the zone the id belongs to")
	}
	if !regionRe.MatchString(r.AWSRegion) {
		bad("Route53.aws_region = %q: not an AWS region, e.g. \"us-east-1\"", r.AWSRegion)
	}
	if t := r.Timeout.D(); t < time.Second || t > time.Minute {
		bad("Route53.timeout = %s: must be from 1s to 1m", t)
	}
	return errs
}

// route53Notice is the one info line a config with the original goavail's
// [Route53] block gets.
func (c *Config) route53Notice() string {
	if !c.Route53.used() {
		return ""
	}
	return fmt.Sprintf("[Route53]: the original goavail's block, read in its meaning: zone %s, %d hostnames, written as weighted record sets (set identifier = the hostname's first label, weight 0) as before; credentials from the AWS SDK's default chain",
		normalizeName(c.Route53.AWSDomain), len(c.Route53.Hostnames))
}
