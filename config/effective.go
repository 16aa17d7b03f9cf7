package config

import (
	"cmp"
	"crypto/sha256"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Effective renders the configuration as goavail uses it, defaults filled
// in and hostnames qualified, as TOML. Secrets are replaced by "<redacted>".
func (c *Config) Effective() string {
	type group struct {
		Provider    string           `toml:"provider"`
		DNSDomain   string           `toml:"dns_domain"`
		Hostnames   []string         `toml:"hostnames"`
		IPAddresses []string         `toml:"ip_addresses"`
		Backups     []string         `toml:"backup_addresses,omitempty"`
		Fallbacks   []string         `toml:"fallback_addresses,omitempty"`
		MinUp       int              `toml:"min_primary_up,omitzero"`
		DNSProxied  bool             `toml:"dns_proxied"`
		TTL         int              `toml:"ttl"`
		Comment     string           `toml:"comment"`
		AllDown     string           `toml:"all_down"`
		Drain       []string         `toml:"drain,omitempty"`
		Match       string           `toml:"match"`
		Checks      []effectiveCheck `toml:"Checks,omitempty"`
	}
	type rfc2136 struct { // never the secret: it is never in the file
		Server        string   `toml:"server"`
		TSIGKeyName   string   `toml:"tsig_key_name"`
		TSIGAlgorithm string   `toml:"tsig_algorithm"`
		Timeout       Duration `toml:"timeout"`
	}
	type route53 struct { // never credentials: they are never in the file
		AWSRegion string   `toml:"aws_region"`
		AWSZoneID string   `toml:"aws_zoneid,omitempty"`
		AWSDomain string   `toml:"aws_domain,omitempty"`
		Timeout   Duration `toml:"timeout"`
	}
	type api struct {
		APIBaseURL     string   `toml:"api_base_url"`
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
		StateFile        string          `toml:"state_file"`
		HistoryMaxAge    Duration        `toml:"history_max_age"`
		HistoryMaxMiB    int             `toml:"history_max_mib"`
		HTTPListen       string          `toml:"http_listen"`
		Deployment       string          `toml:"deployment"`
		FenceName        string          `toml:"fence_name"`
		Members          Members         `toml:"Members"`
		Cloudflare       api             `toml:"Cloudflare"`
		RFC2136          *rfc2136        `toml:"RFC2136,omitempty"`
		Route53          *route53        `toml:"Route53,omitempty"`
		Records          []group         `toml:"Records"`
		Hooks            []HookConfig    `toml:"Hooks,omitempty"`
		Webhooks         []WebhookConfig `toml:"Webhooks,omitempty"`
	}{c.FailureThreshold, c.RiseThreshold, c.Interval, c.ProbeTimeout, c.ReconcilePeriod, c.NodeName, c.FlapHalfLife, c.FlapSuppress, c.FlapReuse, c.MaxRemovals, c.RemovalWindow, c.StateFile, c.HistoryMaxAge, c.HistoryMaxMiB, c.HTTPListen, c.Deployment, c.FenceName, c.Members,
		api{cmp.Or(c.Cloudflare.APIBaseURL, DefaultAPIBaseURL), c.Cloudflare.BatchSize, c.Cloudflare.RequestTimeout, c.Cloudflare.DNSChanges}, nil, nil, nil, c.Hooks, nil}
	if slices.Contains(c.Providers(), ProviderRFC2136) {
		r := c.RFC2136
		out.RFC2136 = &rfc2136{r.Server, r.TSIGKeyName, r.TSIGAlgorithm, r.Timeout}
	}
	if slices.Contains(c.Providers(), ProviderRoute53) {
		r := c.Route53
		// The [Route53] block's own group shows as a [[Records]] table
		// (provider route53); aws_domain stays to say which zone's id
		// aws_zoneid is, and that the group writes weighted sets.
		out.Route53 = &route53{r.AWSRegion, r.AWSZoneID, normalizeName(r.AWSDomain), r.Timeout}
	}
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
		strs := func(as []netip.Addr) []string {
			var out []string
			for _, a := range as {
				out = append(out, a.String())
			}
			return out
		}
		ips := strs(g.Primaries())
		minUp := 0 // shown with the tiers only
		if g.Backups != nil {
			minUp = g.MinPrimaryUp
		}
		policy := "fail-open"
		if g.FailStatic {
			policy = "fail-static"
		}
		var drain []string
		for _, a := range g.Drained {
			drain = append(drain, a.String())
		}
		out.Records = append(out.Records, group{g.Provider, g.Zone, g.Hostnames, ips, strs(g.Backups), strs(g.Fallbacks), minUp, g.Proxied, g.TTL, g.Comment, policy, drain, g.match(), g.effectiveChecks()})
	}
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(out); err != nil {
		return "# cannot render configuration: " + err.Error()
	}
	return c.noteUnsetTTL(b.String())
}

// noteUnsetTTL marks the ttl line of each [[Records]] table whose group
// sets no ttl: the default shown is only for records goavail creates anew;
// a record it removed comes back with its own.
func (c *Config) noteUnsetTTL(s string) string {
	lines := strings.Split(s, "\n")
	group := -1
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "[[Records]]" {
			group++
			continue
		}
		if group >= 0 && group < len(c.Groups) && strings.HasPrefix(t, "ttl = ") && !c.Groups[group].TTLSet && !c.Groups[group].Proxied {
			lines[i] = l + " # unset: for new records; a record goavail removed keeps its own ttl"
		}
	}
	return strings.Join(lines, "\n")
}

// Fingerprint identifies what the agents decide about and how: every
// group's zone, hostnames, addresses, all_down policy, checks and tiers
// (backups, fallbacks, min_primary_up: only when it has backups or
// fallbacks, so a config without them keeps its fingerprint), in a
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
		lines = append(lines, g.Zone+"|"+strings.Join(hosts, ",")+"|"+strings.Join(strs, ",")+"|"+strconv.FormatBool(g.FailStatic)+g.checksFingerprint()+g.tiersFingerprint())
	}
	slices.Sort(lines)
	lines = append(lines, c.Members.decisionKeys())
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	var fp [8]byte
	copy(fp[:], sum[:])
	return fp
}
