package config

import (
	"os"

	"github.com/BurntSushi/toml"
)

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
	if c.Deployment == "" {
		c.Deployment = DefaultDeployment
	}
	if c.FenceName == "" {
		c.FenceName = DefaultFenceName
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
	if !md.IsDefined("history_max_age") {
		c.HistoryMaxAge = Duration(DefaultHistoryMaxAge)
	}
	if !md.IsDefined("history_max_mib") {
		c.HistoryMaxMiB = DefaultHistoryMaxMiB
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
	if cf.ttlSet = md.IsDefined("Cloudflare", "ttl"); !cf.ttlSet {
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
