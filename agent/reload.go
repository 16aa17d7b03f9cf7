package agent

import (
	"log/slog"
	"reflect"
	"slices"

	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/monitor"
)

// reloadConfig re-reads the config. An invalid file changes nothing and its
// errors are returned with the running config; a valid one is applied
// whole, keeping the state of addresses that stay watched.
func reloadConfig(path string, old *config.Config, getenv func(string) string, probes *probes, clu *cluster.Cluster, rec *dns.Reconciler, drn *drainer, log *slog.Logger) (*config.Config, error) {
	cfg, _, err := LoadConfig(path, getenv)
	if err == nil {
		err = cfg.Members.ReloadErrors(old.Members) // peers in effect, not the new ones
	}
	if err == nil {
		err = probes.apply(cfg) // the ICMP engine checks before anything changes
	}
	if err != nil {
		log.Error("reload rejected; keeping the running configuration", "err", err)
		return old, err
	}
	if probes.engine != nil {
		probes.engine.SetConfig(monitor.EngineConfig{Interval: cfg.Interval.D(), Timeout: cfg.ProbeTimeout.D()})
	}
	clu.SetConfig(cfg.Fingerprint(), rules(cfg), cfg.Members.ViewInterval.D())
	rec.SetSafety(safety(cfg))
	drn.setConfig(cfg) // the groups, with every drain applied
	if !slices.Equal(cfg.Members.Peers, old.Members.Peers) || !slices.Equal(cfg.Members.CryptoKey, old.Members.CryptoKey) ||
		cfg.Members.LocalAddr != old.Members.LocalAddr || cfg.Members.BindAddr != old.Members.BindAddr ||
		cfg.Members.MembersPort != old.Members.MembersPort || cfg.NodeName != old.NodeName || cfg.HTTPListen != old.HTTPListen ||
		!reflect.DeepEqual(cfg.Hooks, old.Hooks) || !reflect.DeepEqual(cfg.Webhooks, old.Webhooks) {
		log.Warn("peers, crypto_key, local_addr, bind_addr, members_port, node_name, http_listen, Hooks and Webhooks take effect at the next restart")
	}
	if cfg.Cloudflare.APIBaseURL != old.Cloudflare.APIBaseURL || cfg.Cloudflare.BatchSize != old.Cloudflare.BatchSize || cfg.Cloudflare.RequestTimeout != old.Cloudflare.RequestTimeout ||
		cfg.Cloudflare.DNSChanges != old.Cloudflare.DNSChanges {
		log.Warn("api_base_url, batch_size, request_timeout, account_id and propagation_bound take effect at the next restart")
	}
	if np, op := slices.Sorted(slices.Values(cfg.Providers())), slices.Sorted(slices.Values(old.Providers())); !slices.Equal(np, op) || cfg.RFC2136 != old.RFC2136 {
		log.Warn("the set of providers the groups name and the [RFC2136] block take effect at the next restart (a zone moved to a provider not in use at the start is not written until then)")
	}
	for _, n := range cfg.Notices {
		log.Info(n)
	}
	log.Info("configuration reloaded", "targets", len(cfg.Addrs()), "groups", len(cfg.Groups))
	return cfg, nil
}
