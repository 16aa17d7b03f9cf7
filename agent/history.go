package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/history"
	"github.com/goavail/goavail/monitor"
	"github.com/goavail/goavail/notify"
)

// This file records what the agent sees and does in its history (package
// history): the events type (notify.go) hands it every transition,
// decision, DNS change and drain; agent.go its starts, stops, reloads and
// writer changes. GET /history serves it, goavail history prints it.

// HistoryPath is where the agent keeps its history: beside the state file
// (state.json -> state.history.db, as the drains), or "" (memory only).
func HistoryPath(cfg *config.Config, getenv func(string) string) string {
	path := stateFile(cfg, getenv)
	if path == "" {
		return ""
	}
	return strings.TrimSuffix(path, filepath.Ext(path)) + ".history.db"
}

// agentHistory records this agent's events.
type agentHistory struct {
	rec   *history.Recorder
	store history.Store
	node  string

	mu        sync.Mutex
	hostnames map[netip.Addr][]string
	writer    string                              // the writer as last recorded
	standby   map[string]map[string]history.Event // zone -> change key -> the change a standby pass planned
	listed    map[string]map[string]dns.Record    // zone -> record key -> the managed records a standby pass listed
	term      uint64
	known     bool // writer and term were recorded once
}

// openHistory opens the history beside the state file, or keeps it in
// memory (with a warning) when there is none or the file cannot be
// opened. It never fails: the agent runs without a stored history rather
// than not at all.
func openHistory(cfg *config.Config, getenv func(string) string, log *slog.Logger) *agentHistory {
	log = log.With("component", "history")
	var store history.Store
	path := HistoryPath(cfg, getenv)
	if path == "" {
		log.Warn("no state_file: the failover history (GET /history, goavail history) is kept in memory only and lost at a restart", "events", history.MemoryEvents)
		store = history.NewMemory(0)
	} else if b, err := history.Open(path, history.Options{Log: log, MaxAge: cfg.HistoryMaxAge.D(), MaxBytes: int64(cfg.HistoryMaxMiB) << 20}); err != nil {
		log.Warn("the failover history cannot be stored; keeping it in memory only", "path", path, "err", err)
		store = history.NewMemory(0)
	} else {
		log.Info("failover history", "path", path, "max_age", cfg.HistoryMaxAge.D(), "max_mib", cfg.HistoryMaxMiB)
		store = b
	}
	h := &agentHistory{rec: history.NewRecorder(store, 0, log), node: cfg.NodeName, store: store}
	h.setConfig(cfg)
	return h
}

// setConfig learns which hostnames each address serves.
func (h *agentHistory) setConfig(cfg *config.Config) {
	m := map[netip.Addr][]string{}
	for _, g := range cfg.Groups {
		for _, a := range g.Addrs {
			m[a] = append(m[a], g.Hostnames...)
		}
	}
	h.mu.Lock()
	h.hostnames = m
	h.mu.Unlock()
	if b, ok := h.store.(*history.Bolt); ok {
		b.SetBounds(cfg.HistoryMaxAge.D(), int64(cfg.HistoryMaxMiB)<<20)
	}
}

// run writes events until ctx ends; the returned stop records the stop
// and waits for the queue to be written.
func (h *agentHistory) run(ctx context.Context, version string) (stop func()) {
	h.record(history.Event{Kind: history.KindStart, Detail: "version " + version})
	go h.rec.Run(context.WithoutCancel(ctx))
	return func() {
		h.record(history.Event{Kind: history.KindStop})
		h.rec.Close()
	}
}

// paused records a pause of the agent the probe engine found.
func (h *agentHistory) paused(at time.Time, gone time.Duration) {
	h.record(history.Event{Kind: history.KindPause, At: at, Detail: "paused for " + gone.Round(time.Millisecond).String()})
}

// record stamps e with the node, the time (when unset) and the address's
// hostnames, and queues it.
func (h *agentHistory) record(e history.Event) {
	if h == nil {
		return
	}
	e.Node = h.node
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if a, err := netip.ParseAddr(e.Address); err == nil && len(e.Hostnames) == 0 {
		h.mu.Lock()
		e.Hostnames = h.hostnames[a]
		h.mu.Unlock()
	}
	h.rec.Record(e)
}

func (h *agentHistory) transition(t monitor.Transition) {
	e := history.Event{Kind: history.KindTransition, At: t.At, Address: t.Addr.String(), From: t.From.String(), To: t.To.String(),
		Lost: t.Evidence.Lost, Probes: t.Evidence.Probes, Reason: t.Evidence.LastError}
	for _, r := range t.Evidence.RTTs {
		e.RTTsMS = append(e.RTTsMS, float64(r.Microseconds())/1000)
	}
	h.record(e)
}

func (h *agentHistory) agreed(a netip.Addr, from, to monitor.State, d cluster.Decision) {
	h.record(history.Event{Kind: history.KindAgreed, Address: a.String(), From: from.String(), To: to.String(), Voters: d.Voters})
}

// writerSeen records a change of writer or of its lease term.
func (h *agentHistory) writerSeen(clu *cluster.Cluster) {
	if h == nil || clu == nil {
		return
	}
	_, writer := clu.IsWriter()
	term := clu.Term()
	h.mu.Lock()
	same := h.known && writer == h.writer && term == h.term
	h.writer, h.term, h.known = writer, term, true
	h.mu.Unlock()
	if !same {
		h.record(history.Event{Kind: history.KindWriter, Writer: writer, Term: term})
	}
}

// notified records what the events type notifies: DNS changes and drains.
func (h *agentHistory) notified(n notify.Event) {
	if h == nil {
		return
	}
	switch n.Kind {
	case notify.KindDNSChange:
		e := history.Event{Kind: history.KindDNS, At: n.At, Zone: n.Zone, Name: n.Name, Type: n.Type, Content: n.Content, Action: n.Action, Mode: n.Mode, Reason: n.Error}
		switch {
		case n.Mode == "unverified":
			e.Mode = history.ModeLate
		case n.Mode == dns.ModeApplied && n.Error != "":
			e.Mode = history.ModeFailed
		case n.Mode == dns.ModeStandby:
			h.mu.Lock()
			e.Writer = h.writer
			h.mu.Unlock()
		}
		e.Hostnames = []string{n.Name}
		h.record(e)
	case notify.KindDrain:
		h.record(history.Event{Kind: history.KindDrain, At: n.At, Address: n.Address, Action: n.Action, By: n.By, Reason: n.Reason})
	case notify.KindTier:
		h.record(history.Event{Kind: history.KindTier, At: n.At, Zone: n.Zone, Name: n.Name, Type: n.Type, From: n.From, To: n.To,
			Mode: n.Mode, Reason: n.Evidence, Hostnames: []string{n.Name}})
	}
}

// standbySeen records, on an agent that does not write, the changes the
// writer made as this agent sees them: a change its previous standby pass
// planned that the next pass, listing the zone again, no longer needs.
func (h *agentHistory) standbySeen(r dns.PassReport) {
	if h == nil {
		return
	}
	for _, e := range h.madeByWriter(r) {
		h.record(e)
	}
}

// madeByWriter compares a standby pass with the previous one.
func (h *agentHistory) madeByWriter(r dns.PassReport) []history.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Mode != dns.ModeStandby || r.Err != nil {
		h.standby, h.listed = nil, nil // only consecutive standby passes compare
		return nil
	}
	var seen []history.Event
	found := map[string]bool{}
	next := map[string]map[string]history.Event{}
	nextListed := map[string]map[string]dns.Record{}
	for _, p := range r.Plans {
		// The listings of two passes: a managed record that went, and
		// that this pass does not plan to bring back, was removed by the
		// writer; one that came, and that this pass does not plan to
		// remove, was made by it (also when the writer was faster than
		// this agent's plan). A hand edit that the config undoes shows
		// in the plan instead, and is not the writer's.
		planned := map[string]bool{}
		for _, c := range p.Creates {
			planned[dns.ActionCreate+" "+c.String()] = true
		}
		for _, c := range p.Deletes {
			planned[dns.ActionDelete+" "+c.String()] = true
		}
		cur := make(map[string]dns.Record, len(p.Listed))
		for _, c := range p.Listed {
			cur[c.String()] = c
		}
		if prev, ok := h.listed[p.Zone]; ok {
			note := func(action string, c dns.Record) {
				k := action + " " + c.String()
				if planned[k] || found[k] {
					return
				}
				found[k] = true
				seen = append(seen, history.Event{Kind: history.KindDNS, At: r.At, Writer: h.writer, Zone: p.Zone, Name: c.Name, Type: c.Type, Content: c.Content,
					Action: action, Mode: history.ModeByWriter, Hostnames: []string{c.Name}})
			}
			for k, c := range prev {
				if _, still := cur[k]; !still && !planned[dns.ActionCreate+" "+k] {
					note(dns.ActionDelete, c)
				}
			}
			for k, c := range cur {
				if _, before := prev[k]; !before && !planned[dns.ActionDelete+" "+k] {
					note(dns.ActionCreate, c)
				}
			}
		}
		nextListed[p.Zone] = cur
		curPlan := map[string]history.Event{}
		add := func(action string, recs []dns.Record) {
			for _, c := range recs {
				curPlan[action+" "+c.String()] = history.Event{Kind: history.KindDNS, Zone: p.Zone, Name: c.Name, Type: c.Type, Content: c.Content,
					Action: action, Mode: history.ModeByWriter, Hostnames: []string{c.Name}}
			}
		}
		add(dns.ActionCreate, p.Creates)
		add(dns.ActionDelete, p.Deletes)
		for k, e := range h.standby[p.Zone] {
			// A planned change no longer needed was the writer's only if
			// the listing shows it made: a planned removal whose address
			// came back up before anyone wrote is still listed.
			_, listedNow := cur[strings.TrimPrefix(k, e.Action+" ")]
			if made := listedNow == (e.Action == dns.ActionCreate); !made {
				continue
			}
			if _, still := curPlan[k]; !still && !found[k] {
				found[k] = true
				e.At, e.Writer = r.At, h.writer
				seen = append(seen, e)
			}
		}
		next[p.Zone] = curPlan
	}
	h.standby, h.listed = next, nextListed
	slices.SortFunc(seen, func(a, b history.Event) int {
		return strings.Compare(a.Action+a.Name+a.Content, b.Action+b.Name+b.Content)
	})
	return seen
}

func (h *agentHistory) fenceRefused(at time.Time, zone string, n int) {
	h.record(history.Event{Kind: history.KindDNS, At: at, Zone: zone, Mode: history.ModeFenceRefused,
		Reason: fmt.Sprintf("the zone's fence moved since it was listed: %d write(s) refused, the zone listed and planned again", n)})
}

func (h *agentHistory) verified(p dns.Propagation) {
	h.record(history.Event{Kind: history.KindDNS, At: p.SeenAt, Zone: p.Zone, Name: p.Record.Name, Type: p.Record.Type, Content: p.Record.Content,
		Action: p.Action, Mode: history.ModeVerified, Hostnames: []string{p.Record.Name},
		PropagationMS: float64(p.Propagation.Microseconds()) / 1000, OutageToDNSMS: float64(p.OutageToDNS.Microseconds()) / 1000})
}

func (h *agentHistory) reloaded(err error) {
	e := history.Event{Kind: history.KindReload, Detail: "applied"}
	if err != nil {
		e.Detail, e.Reason = "refused", err.Error()
	}
	h.record(e)
}

// register adds goavail_history_dropped_total and _failed_total.
func (h *agentHistory) register(reg prometheus.Registerer) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "goavail_history_dropped_total",
			Help: "History events dropped because the history's queue was full (the writer could not keep up with the disk)."},
			func() float64 { return float64(h.rec.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "goavail_history_write_failed_total",
			Help: "History events lost because the history file could not be written."},
			func() float64 { return float64(h.rec.Failed()) }))
}

// ParseHistoryFilter reads GET /history's query: address, hostname, since
// (a Go duration back from now, or an RFC 3339 time) and limit.
func ParseHistoryFilter(q map[string][]string, now time.Time) (history.Filter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	f := history.Filter{Address: get("address"), Hostname: get("hostname")}
	if f.Address != "" {
		a, err := netip.ParseAddr(f.Address)
		if err != nil {
			return f, fmt.Errorf("address %q: not an IP address", f.Address)
		}
		f.Address = a.Unmap().String()
	}
	if s := get("since"); s != "" {
		if d, err := time.ParseDuration(s); err == nil {
			f.Since = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339, s); err == nil {
			f.Since = t
		} else {
			return f, fmt.Errorf("since %q: give a duration back from now (24h, 90m) or an RFC 3339 time", s)
		}
	}
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return f, fmt.Errorf("limit %q: give a positive number", s)
		}
		f.Limit = n
	}
	return f, nil
}

// historyRoutes serves GET /history: the events as a JSON array, oldest
// first, filtered by the query (ParseHistoryFilter). Read-only.
func historyRoutes(h *agentHistory) func(*http.ServeMux) {
	return func(mux *http.ServeMux) {
		mux.HandleFunc("GET /history", func(w http.ResponseWriter, r *http.Request) {
			f, err := ParseHistoryFilter(r.URL.Query(), time.Now())
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			events, err := h.rec.Query(f)
			if err != nil && !errors.Is(err, context.Canceled) {
				http.Error(w, "reading the history: "+err.Error(), http.StatusInternalServerError)
				return
			}
			if events == nil {
				events = []history.Event{}
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(events)
		})
	}
}
