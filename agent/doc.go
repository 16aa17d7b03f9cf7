// Package agent is one running goavail. New builds every part from a
// config.Config: the probes (monitor), the cluster and its writer lease
// (cluster), the reconciler and its provider (dns, dns/cloudflare), drains,
// the status document, metrics, the HTTP server, notifications and the state
// files. Run runs them until its context ends; Reload applies the config
// file again, whole or not at all; Status says what the agent sees.
//
// One file per duty: agent.go (build, run, reload), config.go (the parts'
// settings from the config), cluster.go (the cluster's wiring and the agreed
// health), probes.go (checks), provider.go and credentials.go (the DNS
// provider), dnschanges.go (propagation, quarantine events, the shared
// removal memory), drain.go and drainstore.go (drains), annex.go (what rides
// on the views), status.go, metrics.go, http.go, notify.go, logging.go.
// cmd/goavail is the command line around it.
package agent
