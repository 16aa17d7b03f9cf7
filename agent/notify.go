package agent

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/monitor"
	"github.com/goavail/goavail/notify"
)

// sinks builds the hooks and webhooks from the config, reading env: URLs.
func sinks(cfg *config.Config, getenv func(string) string) ([]notify.Sink, error) {
	var out []notify.Sink
	for _, h := range cfg.Hooks {
		out = append(out, notify.Hook{Command: h.Command, Timeout: h.Timeout.D(), Kinds: h.Events})
	}
	for i, w := range cfg.Webhooks {
		u := w.URL
		if name, ok := strings.CutPrefix(u, "env:"); ok {
			if u = getenv(name); u == "" {
				return nil, fmt.Errorf("Webhooks[%d].url: environment variable %s is not set", i, name)
			}
		}
		out = append(out, notify.Webhook{URL: u, Format: w.Format, Timeout: w.Timeout.D(), MaxRetries: *w.Retries, Kinds: w.Events})
	}
	return out, nil
}

// events turns what the agent sees and does into notifications.
type events struct {
	n    *notify.Notifier
	node string
	h    *agentHistory // records the same events (history.go); may be nil

	mu      sync.Mutex
	agreed  map[netip.Addr]monitor.State
	planned map[string]string // mode+zone -> the last plan notified, for dry-run and standby
}

func newEvents(n *notify.Notifier, node string) *events {
	return &events{n: n, node: node, agreed: map[netip.Addr]monitor.State{}, planned: map[string]string{}}
}

// notify sends ev and records it in the history.
func (e *events) notify(ev notify.Event) {
	e.n.Notify(ev)
	e.h.notified(ev)
}

func (e *events) transition(t monitor.Transition) {
	e.h.transition(t)
	e.n.Notify(notify.Event{Kind: notify.KindTransition, At: t.At, Node: e.node, Address: t.Addr.String(),
		From: t.From.String(), To: t.To.String(), Evidence: t.Evidence.String()})
}

func (e *events) decision(d cluster.Decision) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, a := range d.Changed {
		e.h.agreed(a, e.agreed[a], d.States[a], d)
		e.n.Notify(notify.Event{Kind: notify.KindAgreed, At: time.Now(), Node: e.node, Address: a.String(),
			From: e.agreed[a].String(), To: d.States[a].String()})
		e.agreed[a] = d.States[a]
	}
}

// pass notifies every change made, and every change planned by dry-run or
// a standby agent once per distinct plan.
func (e *events) pass(r dns.PassReport) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.quarantined(r)
	e.h.standbySeen(r)
	for _, p := range r.Plans {
		if p.FenceRefused > 0 {
			e.h.fenceRefused(r.At, p.Zone, p.FenceRefused)
		}
		// Failed changes are retried every second or two: notify each
		// distinct set of them once, not every try.
		failed := ""
		for _, f := range p.Failed {
			failed += f.Action + " " + f.Record.String() + ";"
		}
		if len(p.Failed) == 0 || e.planned["failed|"+p.Zone] == failed {
			p.Failed = nil
		}
		e.planned["failed|"+p.Zone] = failed
		for _, f := range p.Failed {
			e.notify(notify.Event{Kind: notify.KindDNSChange, At: r.At, Node: e.node, Zone: p.Zone, Name: f.Record.Name, Type: f.Record.Type,
				Content: f.Record.Content, Action: f.Action, Mode: r.Mode, Error: f.Err})
		}
		if len(p.Creates)+len(p.Deletes) == 0 {
			delete(e.planned, r.Mode+p.Zone)
			continue
		}
		if r.Mode != dns.ModeApplied {
			key := fmt.Sprint(p.Creates, p.Deletes)
			if e.planned[r.Mode+p.Zone] == key {
				continue
			}
			e.planned[r.Mode+p.Zone] = key
		}
		for _, c := range p.Creates {
			e.notify(notify.Event{Kind: notify.KindDNSChange, At: r.At, Node: e.node, Zone: p.Zone, Name: c.Name, Type: c.Type,
				Content: c.Content, Action: "create", Mode: r.Mode})
		}
		for _, d := range p.Deletes {
			e.notify(notify.Event{Kind: notify.KindDNSChange, At: r.At, Node: e.node, Zone: p.Zone, Name: d.Name, Type: d.Type,
				Content: d.Content, Action: "delete", Mode: r.Mode})
		}
	}
}

// drain notifies an operator's drain or undrain.
func (e *events) drain(d DrainEntry, action string) {
	e.notify(notify.Event{Kind: notify.KindDrain, At: d.At, Node: e.node, Address: d.Addr.String(), Action: action, By: d.By, Reason: d.Reason})
}

// tier notifies a change of the tier serving a hostname's records of one
// type (the Reconciler calls it on the writer, or in dry-run).
func (e *events) tier(c dns.TierChange) {
	from := string(c.From)
	if from == "" {
		from = "unknown"
	}
	e.notify(notify.Event{Kind: notify.KindTier, At: time.Now(), Node: e.node, Zone: c.Zone, Name: c.Name, Type: c.Type,
		From: from, To: string(c.Tier), Evidence: c.Evidence(), Mode: c.Mode})
}
