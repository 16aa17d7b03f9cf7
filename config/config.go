package config

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is goavail's complete, validated configuration. Build one with Load
// or Parse; the zero value is not usable.
type Config struct {
	// FailureThreshold is how many probes in a row must be lost before a
	// target is declared down.
	FailureThreshold int `toml:"failure_threshold"`
	// RiseThreshold is how many probes in a row must be answered before a
	// down (or unknown) target is declared up. Default: FailureThreshold.
	RiseThreshold int `toml:"rise_threshold"`
	// Interval is the time between two probes of one target.
	Interval Duration `toml:"interval"`
	// ProbeTimeout is how long a probe waits for its reply. Default: the
	// smaller of Interval and 1s. Never longer than Interval.
	ProbeTimeout Duration `toml:"probe_timeout"`
	// ReconcilePeriod is how often the DNS records are compared with the
	// desired state even when nothing changed, so drift heals.
	ReconcilePeriod Duration `toml:"reconcile_period"`
	// NodeName names this agent in a cluster. Default: the host name.
	NodeName string `toml:"node_name"`
	// FlapHalfLife, FlapSuppress and FlapReuse set flap damping: each time
	// an address goes down it gains a penalty of 1 that halves every
	// FlapHalfLife; at FlapSuppress it is held out of DNS until the penalty
	// falls below FlapReuse. A zero half-life turns damping off.
	FlapHalfLife Duration `toml:"flap_half_life"`
	FlapSuppress float64  `toml:"flap_suppress"`
	FlapReuse    float64  `toml:"flap_reuse"`
	// MaxRemovals bounds the records removed in any RemovalWindow across
	// all zones; 0 means no bound.
	MaxRemovals   int      `toml:"max_removals"`
	RemovalWindow Duration `toml:"removal_window"`
	// StateFile keeps the exact attributes of removed records across
	// restarts. Default: state.json in systemd's $STATE_DIRECTORY when set
	// (resolved by cmd); otherwise they are kept in memory only.
	StateFile string `toml:"state_file"`
	// HTTPListen is where /metrics, /status, /healthz and POST /-/reload
	// are served. Default 127.0.0.1:9800; "" turns the listener off.
	HTTPListen string `toml:"http_listen"`
	// Ports is the original goavail's key: TCP checks on these ports for
	// every address of a group that lists no checks of its own.
	Ports []int `toml:"ports"`

	Members    Members         `toml:"Members"`
	Cloudflare Cloudflare      `toml:"Cloudflare"`
	Records    []RecordGroup   `toml:"Records"`
	Hooks      []HookConfig    `toml:"Hooks"`
	Webhooks   []WebhookConfig `toml:"Webhooks"`

	// Groups is the effective list of record groups: the [Cloudflare] block
	// (when it names a dns_domain) followed by every [[Records]] table, with
	// defaults applied, hostnames made fully qualified and addresses parsed.
	Groups []Group `toml:"-"`
	// Notices are lines for the operator about how the file was read (an
	// old key mapped to a new meaning); cmd logs them at info.
	Notices []string `toml:"-"`

	// probeTimeoutSet says probe_timeout was in the file, not derived
	// from interval: only then is it blamed when interval is out of range.
	probeTimeoutSet bool
}

// EventKinds are the notification events hooks and webhooks can ask for.
var EventKinds = []string{"transition", "agreed", "dns_change", "drain"}

// HookConfig is one [[Hooks]] table: a command run on each event, with the
// event in GOAVAIL_* environment variables.
type HookConfig struct {
	Command []string `toml:"command"` // absolute program path, then arguments
	Timeout Duration `toml:"timeout"` // default 10s
	Events  []string `toml:"events"`  // default: every kind
}

// WebhookConfig is one [[Webhooks]] table.
type WebhookConfig struct {
	// URL is http(s)://… or env:NAME (the URL is a secret for Slack).
	URL     string   `toml:"url"`
	Format  string   `toml:"format"`  // json (default) or slack
	Timeout Duration `toml:"timeout"` // per attempt, default 10s
	Retries *int     `toml:"retries"` // default 5
	Events  []string `toml:"events"`  // default: every kind
}

// Keys is crypto_key: one string or a list of strings. Each is a key as
// package crypto reads it (raw text, hex:…, base64:…, env:NAME or
// file:/path).
type Keys []string

// UnmarshalTOML accepts a string or an array of strings.
func (k *Keys) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*k = Keys{v}
		return nil
	case []any:
		out := make(Keys, 0, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("crypto_key[%d] is a %T; keys are strings", i, e)
			}
			out = append(out, s)
		}
		*k = out
		return nil
	}
	return fmt.Errorf("crypto_key is a %T; give a string or a list of strings", v)
}

// Cloudflare is the [Cloudflare] block: API settings, defaults for every
// record group, and (the original goavail's layout) one record group of its own.
type Cloudflare struct {
	DNSDomain   string   `toml:"dns_domain"`
	Hostnames   []string `toml:"hostnames"`
	IPAddresses []string `toml:"ip_addresses"`
	DNSProxied  bool     `toml:"dns_proxied"`
	// Match and Checks decide the health of the block's own addresses; see
	// RecordGroup.
	Match  string        `toml:"match"`
	Checks []CheckConfig `toml:"Checks"`
	// Drain lists addresses of this block's own group taken out of DNS on
	// purpose (maintenance); see RecordGroup.Drain.
	Drain []string `toml:"drain"`

	// TTL for records goavail creates, in seconds; 1 means automatic.
	TTL int `toml:"ttl"`
	// Comment set on records goavail creates, marking them as managed.
	Comment string `toml:"comment"`
	// AllDown is the policy when every address of a hostname of one type
	// (IPv4 or IPv6) is down: "fail-open" (default: keep or restore all its
	// known addresses of that type) or
	// "fail-static" (keep its records exactly as they are).
	AllDown string `toml:"all_down"`
	// APIBaseURL overrides the Cloudflare API endpoint. The environment
	// variable CLOUDFLARE_BASE_URL wins over it.
	APIBaseURL string `toml:"api_base_url"`
	// BatchSize is the most record changes sent in one batch request
	// (200 on the Free plan, 3,500 on paid plans).
	BatchSize int `toml:"batch_size"`
	// RequestTimeout bounds one API request.
	RequestTimeout Duration `toml:"request_timeout"`
	// DNSChanges: account_id and propagation_bound (config/dns.go).
	DNSChanges
}

// RecordGroup is one [[Records]] table: a zone, the hostnames in it and the
// addresses they point at. Unset ttl, comment and dns_proxied fall back to the
// [Cloudflare] values.
type RecordGroup struct {
	DNSDomain   string   `toml:"dns_domain"`
	Hostnames   []string `toml:"hostnames"`
	IPAddresses []string `toml:"ip_addresses"`
	DNSProxied  *bool    `toml:"dns_proxied"`
	TTL         *int     `toml:"ttl"`
	Comment     *string  `toml:"comment"`
	AllDown     *string  `toml:"all_down"`
	// Match is "all" (default: an address is up when every check is) or
	// "any" (one check up is enough).
	Match *string `toml:"match"`
	// Checks are the group's health checks; default one ICMP check.
	Checks []CheckConfig `toml:"Checks"`
	// Drain lists addresses of this group taken out of DNS on purpose:
	// still probed and shown, never in DNS, never counted by the
	// isolation guard.
	Drain []string `toml:"drain"`
}

// Group is an effective record group: every hostname in Zone should point
// at the addresses of Addrs that are up.
type Group struct {
	Zone      string       // zone name, lower case, no trailing dot
	Hostnames []string     // fully qualified, lower case, no trailing dot
	Addrs     []netip.Addr // IPv4 become A records, IPv6 AAAA records
	Proxied   bool
	TTL       int
	Comment   string
	// FailStatic: when every address is down, leave the records as they
	// are instead of restoring all known addresses (fail-open).
	FailStatic bool
	// Checks decide each address's health (see config/checks.go); MatchAny
	// lets one up check do instead of all.
	Checks       []Check
	MatchAny     bool
	implicitICMP bool // Checks is the default, unconfigured ICMP check
	// Drained are addresses of Addrs drained by the config's drain key.
	Drained []netip.Addr
}

// Defaults for keys that are not set.
const (
	DefaultFailureThreshold = 3
	DefaultInterval         = time.Second
	DefaultReconcilePeriod  = 60 * time.Second
	DefaultMembersPort      = 7946
	DefaultHTTPListen       = "127.0.0.1:9800"
	DefaultFlapHalfLife     = 5 * time.Minute
	DefaultFlapSuppress     = 2.5
	DefaultFlapReuse        = 0.75
	DefaultRemovalWindow    = 10 * time.Minute
	DefaultNotifyTimeout    = 10 * time.Second
	DefaultWebhookRetries   = 5
	DefaultViewInterval     = 2 * time.Second
	DefaultIsolation        = 0.9
	DefaultTTL              = 60
	DefaultComment          = "managed by goavail"
	DefaultBatchSize        = 200
	DefaultRequestTimeout   = 10 * time.Second
	maxProbeTimeout         = time.Second
)

// Load reads and parses the file at path. See Parse.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes TOML text into a fresh Config, applies defaults and
// validates it. Every problem is reported, joined into one error.
func Parse(text string) (*Config, error) {
	c := &Config{}
	md, errs, dropped, err := decode(text, c)
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	reported := map[string]bool{}
	for _, k := range md.Undecoded() {
		if len(k) > 1 && reported[k[:len(k)-1].String()] {
			continue // a key inside a table that is itself unknown
		}
		reported[k.String()] = true
		errs = append(errs, unknownKey(k))
	}
	c.applyDefaults(md)
	for _, e := range c.validate() {
		if !aboutDropped(e, dropped) {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// unknownKey words the error for a key goavail does not read. Keys the
// original goavail had but this one dropped get a hint of their own.
func unknownKey(k toml.Key) error {
	name := k.String()
	switch {
	case k[0] == "Route53":
		return fmt.Errorf("%s: Route 53 is not supported; remove the [Route53] block", name)
	case name == "slack_addr":
		return fmt.Errorf("slack_addr: no longer read; add a [[Webhooks]] table with url = \"env:SLACK_WEBHOOK_URL\" and format = \"slack\"")
	case name == "port":
		return errors.New("port: no longer read; use ports = [80] for TCP checks on every address, or a [[Records.Checks]] table")
	}
	return fmt.Errorf("%s: unknown key (check its spelling and the block it is in)", name)
}

func (c *Config) applyDefaults(md toml.MetaData) {
	if !md.IsDefined("failure_threshold") {
		c.FailureThreshold = DefaultFailureThreshold
	}
	if !md.IsDefined("rise_threshold") {
		c.RiseThreshold = c.FailureThreshold
		if c.RiseThreshold < 1 || c.RiseThreshold > 1000 {
			c.RiseThreshold = DefaultFailureThreshold // failure_threshold's own error says it
		}
	}
	if !md.IsDefined("interval") {
		c.Interval = Duration(DefaultInterval)
	}
	c.probeTimeoutSet = md.IsDefined("probe_timeout")
	if !c.probeTimeoutSet {
		c.ProbeTimeout = Duration(min(c.Interval.D(), maxProbeTimeout))
	}
	if !md.IsDefined("reconcile_period") {
		c.ReconcilePeriod = Duration(DefaultReconcilePeriod)
	}
	if c.NodeName == "" {
		c.NodeName, _ = os.Hostname()
	}
	if !md.IsDefined("http_listen") {
		c.HTTPListen = DefaultHTTPListen
	}
	if !md.IsDefined("flap_half_life") {
		c.FlapHalfLife = Duration(DefaultFlapHalfLife)
	}
	if !md.IsDefined("flap_suppress") {
		c.FlapSuppress = DefaultFlapSuppress
	}
	if !md.IsDefined("flap_reuse") {
		c.FlapReuse = DefaultFlapReuse
	}
	if !md.IsDefined("removal_window") {
		c.RemovalWindow = Duration(DefaultRemovalWindow)
	}
	for i := range c.Hooks {
		if c.Hooks[i].Timeout == 0 {
			c.Hooks[i].Timeout = Duration(DefaultNotifyTimeout)
		}
	}
	for i := range c.Webhooks {
		w := &c.Webhooks[i]
		if w.Timeout == 0 {
			w.Timeout = Duration(DefaultNotifyTimeout)
		}
		if w.Format == "" {
			w.Format = "json"
		}
		if w.Retries == nil {
			n := DefaultWebhookRetries
			w.Retries = &n
		}
	}
	c.Members.applyDefaults(md)
	cf := &c.Cloudflare
	if !md.IsDefined("Cloudflare", "ttl") {
		cf.TTL = DefaultTTL
	}
	if !md.IsDefined("Cloudflare", "comment") {
		cf.Comment = DefaultComment
	}
	if !md.IsDefined("Cloudflare", "batch_size") {
		cf.BatchSize = DefaultBatchSize
	}
	if !md.IsDefined("Cloudflare", "request_timeout") {
		cf.RequestTimeout = Duration(DefaultRequestTimeout)
	}
	c.dnsDefaults(md)
}

func (c *Config) validate() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if c.FailureThreshold < 1 || c.FailureThreshold > 1000 {
		bad("failure_threshold = %d: must be from 1 to 1000", c.FailureThreshold)
	}
	if c.RiseThreshold < 1 || c.RiseThreshold > 1000 {
		bad("rise_threshold = %d: must be from 1 to 1000", c.RiseThreshold)
	}
	if c.Interval.D() < 100*time.Millisecond || c.Interval.D() > time.Hour {
		bad("interval = %s: must be from 100ms to 1h", c.Interval.D())
	}
	intervalOK := c.Interval.D() >= 100*time.Millisecond && c.Interval.D() <= time.Hour
	if (intervalOK || c.probeTimeoutSet) && (c.ProbeTimeout.D() < 10*time.Millisecond || c.ProbeTimeout.D() > c.Interval.D()) {
		bad("probe_timeout = %s: must be from 10ms to interval (%s)", c.ProbeTimeout.D(), c.Interval.D())
	}
	if c.ReconcilePeriod.D() < time.Second {
		bad("reconcile_period = %s: must be at least 1s", c.ReconcilePeriod.D())
	}
	if h := c.FlapHalfLife.D(); h != 0 && (h < 10*time.Second || h > 24*time.Hour) {
		bad("flap_half_life = %s: must be 0 (damping off) or from 10s to 24h", h)
	}
	if c.FlapHalfLife != 0 && !(c.FlapReuse > 0 && c.FlapSuppress > c.FlapReuse) {
		bad("flap_suppress = %v, flap_reuse = %v: need flap_suppress > flap_reuse > 0", c.FlapSuppress, c.FlapReuse)
	}
	if c.MaxRemovals < 0 {
		bad("max_removals = %d: must be 0 (no limit) or more", c.MaxRemovals)
	}
	if c.RemovalWindow.D() < time.Second {
		bad("removal_window = %s: must be at least 1s", c.RemovalWindow.D())
	}
	if c.HTTPListen != "" {
		if _, port, err := net.SplitHostPort(c.HTTPListen); err != nil || port == "" {
			bad("http_listen = %q: must be host:port, e.g. 127.0.0.1:9800, or \"\" to turn it off", c.HTTPListen)
		}
	}
	errs = append(errs, c.Members.validate()...)
	errs = append(errs, c.validateNotifications()...)
	errs = append(errs, c.dnsValidate()...)
	cf := c.Cloudflare
	if cf.TTL != 1 && (cf.TTL < 30 || cf.TTL > 86400) {
		bad("Cloudflare.ttl = %d: must be 1 (automatic) or from 30 to 86400 seconds", cf.TTL)
	}
	if cf.BatchSize < 1 || cf.BatchSize > 3500 {
		bad("Cloudflare.batch_size = %d: must be from 1 to 3500 (200 on the Free plan)", cf.BatchSize)
	}
	if cf.RequestTimeout.D() < time.Second {
		bad("Cloudflare.request_timeout = %s: must be at least 1s", cf.RequestTimeout.D())
	}
	if cf.APIBaseURL != "" && !strings.HasPrefix(cf.APIBaseURL, "https://") && !strings.HasPrefix(cf.APIBaseURL, "http://") {
		bad("Cloudflare.api_base_url = %q: must be an http:// or https:// URL", cf.APIBaseURL)
	}

	for i, p := range c.Ports {
		if p < 1 || p > 65535 {
			bad("ports[%d] = %d: must be from 1 to 65535", i, p)
		}
	}
	groups, gerrs := c.buildGroups()
	errs = append(errs, gerrs...)
	c.Groups = groups
	if len(gerrs) == 0 {
		errs = append(errs, c.validateSharedChecks()...)
	}
	errs = append(errs, c.strayChecks()...)
	if n := c.portsNotice(); n != "" {
		c.Notices = append(c.Notices, n)
	}
	if len(groups) == 0 && len(gerrs) == 0 {
		bad("no record groups: set dns_domain, hostnames and ip_addresses in [Cloudflare] or add a [[Records]] table")
	}
	return errs
}

// buildGroups turns the [Cloudflare] block and the [[Records]] tables into
// effective groups, checking every name and address.
func (c *Config) buildGroups() ([]Group, []error) {
	cf := c.Cloudflare
	type source struct {
		where string // the key prefix errors name
		rg    RecordGroup
	}
	var raw []source
	if cf.DNSDomain != "" || len(cf.Hostnames) > 0 || len(cf.IPAddresses) > 0 {
		p := cf.DNSProxied
		raw = append(raw, source{"Cloudflare", RecordGroup{DNSDomain: cf.DNSDomain, Hostnames: cf.Hostnames, IPAddresses: cf.IPAddresses, DNSProxied: &p, Drain: cf.Drain, Match: &cf.Match, Checks: cf.Checks}})
	}
	for i, rg := range c.Records {
		raw = append(raw, source{fmt.Sprintf("Records[%d]", i), rg})
	}

	var groups []Group
	var errs []error
	owner := map[string]string{} // FQDN -> where it was first configured
	for _, r := range raw {
		g, gerrs := buildGroup(r.where, r.rg, cf)
		gerrs = append(gerrs, c.buildChecks(r.where, r.rg.Checks, r.rg.Match, &g)...)
		errs = append(errs, gerrs...)
		for _, h := range g.Hostnames {
			if prev, ok := owner[h]; ok {
				errs = append(errs, fmt.Errorf("%s.hostnames: %q is already managed by %s; a hostname belongs to one group", r.where, h, prev))
				continue
			}
			owner[h] = r.where
		}
		if len(gerrs) == 0 {
			groups = append(groups, g)
		}
	}
	return groups, errs
}

func buildGroup(where string, rg RecordGroup, cf Cloudflare) (Group, []error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(where+"."+format, a...)) }

	zone := normalizeName(rg.DNSDomain)
	g := Group{Zone: zone, Proxied: cf.DNSProxied, TTL: cf.TTL, Comment: cf.Comment}
	policy := cf.AllDown
	if rg.AllDown != nil {
		policy = *rg.AllDown
	}
	switch policy {
	case "", "fail-open":
	case "fail-static":
		g.FailStatic = true
	default:
		bad("all_down = %q: must be fail-open or fail-static", policy)
	}
	if rg.DNSProxied != nil {
		g.Proxied = *rg.DNSProxied
	}
	if rg.TTL != nil {
		g.TTL = *rg.TTL
		if g.TTL != 1 && (g.TTL < 30 || g.TTL > 86400) {
			bad("ttl = %d: must be 1 (automatic) or from 30 to 86400 seconds", g.TTL)
		}
	}
	if rg.Comment != nil {
		g.Comment = *rg.Comment
	}
	if len(g.Comment) > 100 {
		bad("comment: %d characters, Cloudflare's limit on the Free plan is 100", len(g.Comment))
	}
	if zone == "" {
		bad("dns_domain: missing; name the Cloudflare zone, e.g. \"example.com\"")
	} else if err := checkDNSName(zone); err != nil {
		bad("dns_domain = %q: %v", rg.DNSDomain, err)
	}
	if len(rg.Hostnames) == 0 {
		bad("hostnames: missing; list at least one name, e.g. [\"www\"] or [\"@\"] for the apex")
	}
	for _, h := range rg.Hostnames {
		fq := qualify(h, zone)
		err := outsideZone(h, zone)
		if strings.Contains(h, "*") {
			err = errors.New("wildcards are not managed: list each name")
		} else if err == nil || zone == "" {
			err = checkDNSName(fq)
		}
		if err != nil {
			bad("hostnames: %q: %v", h, err)
			continue
		}
		if slices.Contains(g.Hostnames, fq) {
			bad("hostnames: %q is listed twice", h)
			continue
		}
		g.Hostnames = append(g.Hostnames, fq)
	}
	if len(rg.IPAddresses) == 0 {
		bad("ip_addresses: missing; list the addresses to watch, e.g. [\"192.0.2.10\"]")
	}
	for _, s := range rg.IPAddresses {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || a.Zone() != "" {
			bad("ip_addresses: %q is not an IPv4 or IPv6 address", s)
			continue
		}
		a = a.Unmap()
		if !a.IsGlobalUnicast() && !a.IsLoopback() {
			bad("ip_addresses: %q is not a unicast address", s)
			continue
		}
		if slices.Contains(g.Addrs, a) {
			bad("ip_addresses: %q is listed twice", s)
			continue
		}
		g.Addrs = append(g.Addrs, a)
	}
	g.Drained, errs = drained(where, rg.Drain, g.Addrs, errs)
	if g.Proxied && g.TTL != 1 && rg.TTL != nil {
		bad("ttl = %d: proxied records always have automatic TTL; set ttl = 1 or dns_proxied = false", g.TTL)
	}
	if g.Proxied {
		g.TTL = 1
	}
	return g, errs
}

// normalizeName lower-cases a DNS name and drops a trailing dot.
func normalizeName(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

// qualify makes a configured hostname fully qualified within zone, the way
// the original goavail did: "www" becomes "www.example.com", "@" the apex,
// and a name already inside the zone stays as it is.
func qualify(host, zone string) string {
	h := normalizeName(host)
	switch {
	case h == "@" || h == zone:
		return zone
	case strings.HasSuffix(h, "."+zone):
		return h
	}
	return h + "." + zone
}

func checkDNSName(name string) error {
	if len(name) > 253 {
		return errors.New("longer than 253 characters")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("each label must be 1 to 63 characters")
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("label %q has %q; use letters, digits, '-' and '_' (punycode for IDNs)", label, r)
			}
		}
	}
	return nil
}

// Addrs returns every monitored address once, in configuration order.
func (c *Config) Addrs() []netip.Addr {
	n := 0
	for _, g := range c.Groups {
		n += len(g.Addrs)
	}
	out := make([]netip.Addr, 0, n) // sized: at 100,000 addresses growing them was most of the garbage
	seen := make(map[netip.Addr]bool, n)
	for _, g := range c.Groups {
		for _, a := range g.Addrs {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// Effective renders the configuration as goavail uses it, defaults filled
// in and hostnames qualified, as TOML. Secrets are replaced by "<redacted>".
func (c *Config) Effective() string {
	type group struct {
		DNSDomain   string           `toml:"dns_domain"`
		Hostnames   []string         `toml:"hostnames"`
		IPAddresses []string         `toml:"ip_addresses"`
		DNSProxied  bool             `toml:"dns_proxied"`
		TTL         int              `toml:"ttl"`
		Comment     string           `toml:"comment"`
		AllDown     string           `toml:"all_down"`
		Drain       []string         `toml:"drain,omitempty"`
		Match       string           `toml:"match"`
		Checks      []effectiveCheck `toml:"Checks,omitempty"`
	}
	type api struct {
		APIBaseURL     string   `toml:"api_base_url,omitempty"`
		BatchSize      int      `toml:"batch_size"`
		RequestTimeout Duration `toml:"request_timeout"`
		DNSChanges
	}
	out := struct {
		FailureThreshold int             `toml:"failure_threshold"`
		RiseThreshold    int             `toml:"rise_threshold"`
		Interval         Duration        `toml:"interval"`
		ProbeTimeout     Duration        `toml:"probe_timeout"`
		ReconcilePeriod  Duration        `toml:"reconcile_period"`
		NodeName         string          `toml:"node_name"`
		FlapHalfLife     Duration        `toml:"flap_half_life"`
		FlapSuppress     float64         `toml:"flap_suppress"`
		FlapReuse        float64         `toml:"flap_reuse"`
		MaxRemovals      int             `toml:"max_removals"`
		RemovalWindow    Duration        `toml:"removal_window"`
		StateFile        string          `toml:"state_file,omitempty"`
		HTTPListen       string          `toml:"http_listen"`
		Members          Members         `toml:"Members"`
		Cloudflare       api             `toml:"Cloudflare"`
		Records          []group         `toml:"Records"`
		Hooks            []HookConfig    `toml:"Hooks,omitempty"`
		Webhooks         []WebhookConfig `toml:"Webhooks,omitempty"`
	}{c.FailureThreshold, c.RiseThreshold, c.Interval, c.ProbeTimeout, c.ReconcilePeriod, c.NodeName, c.FlapHalfLife, c.FlapSuppress, c.FlapReuse, c.MaxRemovals, c.RemovalWindow, c.StateFile, c.HTTPListen, c.Members,
		api{c.Cloudflare.APIBaseURL, c.Cloudflare.BatchSize, c.Cloudflare.RequestTimeout, c.Cloudflare.DNSChanges}, nil, c.Hooks, nil}
	for _, w := range c.Webhooks {
		if !strings.HasPrefix(w.URL, "env:") { // the path and query may be a token
			host := "redacted.invalid"
			if u, err := url.Parse(w.URL); err == nil && u.Host != "" {
				host = u.Host
			}
			w.URL = strings.SplitN(w.URL, ":", 2)[0] + "://" + host + "/redacted"
		}
		out.Webhooks = append(out.Webhooks, w)
	}
	out.Members.CryptoKey = nil
	for range c.Members.CryptoKey {
		out.Members.CryptoKey = append(out.Members.CryptoKey, "<redacted>")
	}
	for _, g := range c.Groups {
		ips := make([]string, len(g.Addrs))
		for i, a := range g.Addrs {
			ips[i] = a.String()
		}
		policy := "fail-open"
		if g.FailStatic {
			policy = "fail-static"
		}
		var drain []string
		for _, a := range g.Drained {
			drain = append(drain, a.String())
		}
		out.Records = append(out.Records, group{g.Zone, g.Hostnames, ips, g.Proxied, g.TTL, g.Comment, policy, drain, g.match(), g.effectiveChecks()})
	}
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(out); err != nil {
		return "# cannot render configuration: " + err.Error()
	}
	return b.String()
}

// Fingerprint identifies what the agents decide about and how: every
// group's zone, hostnames, addresses, all_down policy and checks, in a
// canonical order, and the agreement keys of [Members] (see decisionKeys).
// Agents whose fingerprints differ would decide differently, so they ignore
// each other's views.
func (c *Config) Fingerprint() [8]byte {
	lines := make([]string, 0, len(c.Groups))
	for _, g := range c.Groups {
		hosts := slices.Sorted(slices.Values(g.Hostnames))
		addrs := slices.Clone(g.Addrs)
		slices.SortFunc(addrs, netip.Addr.Compare)
		strs := make([]string, len(addrs))
		for i, a := range addrs {
			strs[i] = a.String()
		}
		lines = append(lines, g.Zone+"|"+strings.Join(hosts, ",")+"|"+strings.Join(strs, ",")+"|"+strconv.FormatBool(g.FailStatic)+g.checksFingerprint())
	}
	slices.Sort(lines)
	lines = append(lines, c.Members.decisionKeys())
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	var fp [8]byte
	copy(fp[:], sum[:])
	return fp
}

func (c *Config) validateNotifications() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	events := func(where string, kinds []string) {
		for _, k := range kinds {
			if !slices.Contains(EventKinds, k) {
				bad("%s.events: %q is not an event; use %s", where, k, strings.Join(EventKinds, ", "))
			}
		}
	}
	for i, h := range c.Hooks {
		where := fmt.Sprintf("Hooks[%d]", i)
		if len(h.Command) == 0 || !strings.HasPrefix(h.Command[0], "/") {
			bad("%s.command = %q: must be a list starting with an absolute program path, e.g. [\"/usr/local/bin/notify\", \"--flag\"]", where, h.Command)
		}
		if h.Timeout.D() < 100*time.Millisecond || h.Timeout.D() > 10*time.Minute {
			bad("%s.timeout = %s: must be from 100ms to 10m", where, h.Timeout.D())
		}
		events(where, h.Events)
	}
	for i, w := range c.Webhooks {
		where := fmt.Sprintf("Webhooks[%d]", i)
		if !strings.HasPrefix(w.URL, "env:") && !strings.HasPrefix(w.URL, "https://") && !strings.HasPrefix(w.URL, "http://") {
			bad("%s.url: must be an http(s):// URL or env:NAME (keep secret URLs in the environment)", where)
		}
		if w.Format != "json" && w.Format != "slack" {
			bad("%s.format = %q: must be json or slack", where, w.Format)
		}
		if w.Timeout.D() < 100*time.Millisecond || w.Timeout.D() > 5*time.Minute {
			bad("%s.timeout = %s: must be from 100ms to 5m", where, w.Timeout.D())
		}
		if *w.Retries < 0 || *w.Retries > 100 {
			bad("%s.retries = %d: must be from 0 to 100", where, *w.Retries)
		}
		events(where, w.Events)
	}
	return errs
}
