package agent

import (
	"log/slog"
	"reflect"
	"slices"
	"strings"

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
	if changed := restartOnlyChanges(old, cfg); len(changed) > 0 {
		log.Warn(strings.Join(changed, ", ")+" changed: "+restartWords(len(changed))+" at the next restart; the running agent keeps the old value", "keys", changed)
	}
	if np, op := slices.Sorted(slices.Values(cfg.Providers())), slices.Sorted(slices.Values(old.Providers())); !slices.Equal(np, op) || cfg.RFC2136 != old.RFC2136 {
		log.Warn("the set of providers the groups name and the [RFC2136] block take effect at the next restart (a zone moved to a provider not in use at the start is not written until then)")
	}
	for _, n := range cfg.Notices {
		log.Info(n)
	}
	for _, w := range cfg.RecordWarnings() {
		log.Warn(w)
	}
	log.Info("configuration reloaded", "targets", len(cfg.Addrs()), "groups", len(cfg.Groups))
	return cfg, nil
}

// restartOnlyChanges names the keys a reload changed that apply at a
// restart only: the listeners, the cluster's identity and transport, the
// notification sinks, and the API client.
func restartOnlyChanges(old, cfg *config.Config) []string {
	var out []string
	add := func(changed bool, key string) {
		if changed {
			out = append(out, key)
		}
	}
	om, nm := old.Members, cfg.Members
	add(!slices.Equal(nm.Peers, om.Peers), "peers")
	add(!slices.Equal(nm.CryptoKey, om.CryptoKey), "crypto_key")
	add(nm.LocalAddr != om.LocalAddr, "local_addr")
	add(nm.BindAddr != om.BindAddr, "bind_addr")
	add(nm.MembersPort != om.MembersPort, "members_port")
	add(cfg.NodeName != old.NodeName, "node_name")
	add(cfg.HTTPListen != old.HTTPListen, "http_listen")
	add(!reflect.DeepEqual(cfg.Hooks, old.Hooks), "[[Hooks]]")
	add(!reflect.DeepEqual(cfg.Webhooks, old.Webhooks), "[[Webhooks]]")
	oc, nc := old.Cloudflare, cfg.Cloudflare
	add(nc.APIBaseURL != oc.APIBaseURL, "api_base_url")
	add(nc.BatchSize != oc.BatchSize, "batch_size")
	add(nc.RequestTimeout != oc.RequestTimeout, "request_timeout")
	add(nc.AccountID != oc.AccountID, "account_id")
	add(nc.PropagationBound != oc.PropagationBound, "propagation_bound")
	return out
}

func restartWords(n int) string {
	if n == 1 {
		return "it takes effect"
	}
	return "they take effect"
}
