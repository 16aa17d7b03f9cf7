package config

import (
	"fmt"
	"net/netip"
	"time"
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
	// HistoryMaxAge and HistoryMaxMiB bound the failover history kept
	// beside the state file: older events go, and the oldest once the
	// events take more. Defaults 720h (30 days) and 64.
	HistoryMaxAge Duration `toml:"history_max_age"`
	HistoryMaxMiB int      `toml:"history_max_mib"`
	// HTTPListen is where /metrics, /status, /healthz and POST /-/reload
	// are served. Default 127.0.0.1:9800; "" turns the listener off.
	HTTPListen string `toml:"http_listen"`
	// Deployment names this cluster of agents in each zone's fence record,
	// so that two deployments writing one zone see each other. Unlike the
	// key or the peers, it stays the same for the deployment's life.
	// Default "goavail".
	Deployment string `toml:"deployment"`
	// FenceName is the first label(s) of each zone's fence record: the TXT
	// record every write replaces, so that a write planned on a stale
	// listing is refused by the provider. Default "_goavail" (the record
	// is _goavail.<zone>).
	FenceName string `toml:"fence_name"`
	// Ports is the original goavail's key: TCP checks on these ports for
	// every address of a group that lists no checks of its own.
	Ports []int `toml:"ports"`

	Members    Members         `toml:"Members"`
	Cloudflare Cloudflare      `toml:"Cloudflare"`
	RFC2136    RFC2136         `toml:"RFC2136"`
	Route53    Route53         `toml:"Route53"`
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
var EventKinds = []string{"transition", "agreed", "dns_change", "drain", "tier"}

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
	// BackupAddresses, FallbackAddresses and MinPrimaryUp: the block's
	// own group's tiers; see RecordGroup.
	BackupAddresses   []string `toml:"backup_addresses"`
	FallbackAddresses []string `toml:"fallback_addresses"`
	MinPrimaryUp      *int     `toml:"min_primary_up"`

	// TTL for records goavail creates, in seconds; 1 means automatic.
	// DefaultTTL when unset, and then a record goavail removed comes back
	// with its own ttl (see Group.TTLSet).
	TTL int `toml:"ttl"`
	// ttlSet says ttl was in the file.
	ttlSet bool
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
	// BackupAddresses are watched like ip_addresses, and published for a
	// hostname only while fewer than MinPrimaryUp (default 1) of its
	// ip_addresses of the same record type are up.
	BackupAddresses []string `toml:"backup_addresses"`
	// FallbackAddresses are not watched: published for a hostname only
	// while none of its ip_addresses and backup_addresses of the same
	// record type is up.
	FallbackAddresses []string `toml:"fallback_addresses"`
	MinPrimaryUp      *int     `toml:"min_primary_up"`
	// Provider is "cloudflare" (default), "rfc2136" or "route53" (the server and
	// key in the [RFC2136] block).
	Provider *string `toml:"provider"`
}

// Group is an effective record group: every hostname in Zone should point
// at the addresses of Addrs that are up.
type Group struct {
	Zone      string       // zone name, lower case, no trailing dot
	Hostnames []string     // fully qualified, lower case, no trailing dot
	Addrs     []netip.Addr // IPv4 become A records, IPv6 AAAA records
	Proxied   bool
	TTL       int
	// TTLSet says ttl was written in the file (in [Cloudflare] or the
	// group's table). When it was not, TTL is DefaultTTL for records
	// goavail creates, and a record it removed comes back with its own.
	TTLSet  bool
	Comment string
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
	// Backups are the addresses of Addrs from backup_addresses (Addrs is
	// every watched address: the primaries, then the backups); Fallbacks,
	// from fallback_addresses, are not watched and not in Addrs.
	// MinPrimaryUp is min_primary_up, 1 when unset.
	Backups, Fallbacks []netip.Addr
	MinPrimaryUp       int
	// Provider is where the group's records live: "cloudflare",
	// "rfc2136" or "route53" (the [[Records]] table's provider key).
	Provider string
	// Weighted: the group is the original goavail's [Route53] block,
	// whose record sets are weighted (set identifier = the hostname's
	// first label, weight 0); a set goavail creates for it is too.
	Weighted bool

	where string // the key prefix errors name, e.g. Records[1]
}

// Defaults for keys that are not set.
const (
	DefaultFailureThreshold = 3
	DefaultInterval         = time.Second
	DefaultReconcilePeriod  = 60 * time.Second
	DefaultMembersPort      = 7946
	DefaultHTTPListen       = "127.0.0.1:9800"
	// DefaultAPIBaseURL is Cloudflare's v4 API, where goavail goes without
	// api_base_url or CLOUDFLARE_BASE_URL.
	DefaultAPIBaseURL     = "https://api.cloudflare.com/client/v4/"
	DefaultDeployment     = "goavail"
	DefaultFenceName      = "_goavail"
	DefaultFlapHalfLife   = 5 * time.Minute
	DefaultFlapSuppress   = 2.5
	DefaultFlapReuse      = 0.75
	DefaultRemovalWindow  = 10 * time.Minute
	DefaultHistoryMaxAge  = 30 * 24 * time.Hour
	DefaultHistoryMaxMiB  = 64
	DefaultNotifyTimeout  = 10 * time.Second
	DefaultWebhookRetries = 5
	DefaultViewInterval   = 2 * time.Second
	DefaultIsolation      = 0.9
	DefaultTTL            = 60
	DefaultComment        = "managed by goavail"
	DefaultBatchSize      = 200
	DefaultRequestTimeout = 10 * time.Second
	maxProbeTimeout       = time.Second
)
