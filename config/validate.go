package config

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

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
	if !validDeployment(c.Deployment) {
		bad("deployment = %q: use 1 to 63 letters, digits, '.', '_' or '-'", c.Deployment)
	}
	if err := checkDNSName(c.FenceName); err != nil || strings.Contains(c.FenceName, "*") {
		bad("fence_name = %q: must be one or more DNS labels, such as \"_goavail\" (the fence record is <fence_name>.<zone>)", c.FenceName)
	}
	if c.MaxRemovals < 0 {
		bad("max_removals = %d: must be 0 (no limit) or more", c.MaxRemovals)
	}
	if c.RemovalWindow.D() < time.Second {
		bad("removal_window = %s: must be at least 1s", c.RemovalWindow.D())
	}
	if c.HistoryMaxAge.D() < time.Hour {
		bad("history_max_age = %s: must be at least 1h (default 720h, 30 days)", c.HistoryMaxAge.D())
	}
	if c.HistoryMaxMiB < 1 || c.HistoryMaxMiB > 1<<16 {
		bad("history_max_mib = %d: must be from 1 to 65536 (default 64)", c.HistoryMaxMiB)
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
	errs = append(errs, c.rfc2136Validate()...)
	errs = append(errs, c.route53Validate()...)
	if n := c.route53Notice(); n != "" {
		c.Notices = append(c.Notices, n)
	}
	if n := c.portsNotice(); n != "" {
		c.Notices = append(c.Notices, n)
	}
	if len(groups) == 0 && len(gerrs) == 0 {
		bad("no record groups: set dns_domain, hostnames and ip_addresses in [Cloudflare] (or aws_domain, hostnames and ip_addresses in [Route53]) or add a [[Records]] table")
	}
	return errs
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

// validDeployment: a deployment name goes into the fence record's TXT
// content as one word.
func validDeployment(s string) bool {
	if len(s) < 1 || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
