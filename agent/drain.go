package agent

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/monitor"
)

// drainer takes addresses out of DNS on purpose. An address is drained by
// the config (a group's drain key) or by an operator through the HTTP API
// (goavail drain), and stays probed and shown. Operator drains are kept in
// a store beside the state file, sent to the peers in this agent's sealed
// view and merged from theirs (newest entry wins), so every agent applies
// the same drains, and a restart keeps them. Drained addresses leave this
// agent's view, so they never count towards the isolation guard or any
// vote; the planner removes their records.
type drainer struct {
	store *drainStore
	node  string
	now   func() time.Time
	log   *slog.Logger
	ev    *events

	// Set once while wiring, before anything runs.
	clu   *cluster.Cluster
	rec   *dns.Reconciler
	annex *annexBox

	mu  sync.Mutex
	cfg *config.Config
}

// newDrainer loads the drains kept beside the state file. A missing or
// unusable file starts empty (logged); config drains hold regardless.
func newDrainer(cfg *config.Config, getenv func(string) string, ev *events, log *slog.Logger) (*drainer, error) {
	path := drainsPath(stateFile(cfg, getenv))
	store, err := loadDrainStore(path)
	switch {
	case path == "":
		log.Debug("no state_file: drains made with goavail drain hold until a restart only") // the WARN of loadMemory says it for every kind of state
	case err != nil:
		log.Warn("drains file unusable; starting with no operator drains", "path", path, "err", err)
	case len(store.list()) > 0:
		log.Info("drains loaded", "path", path, "entries", len(store.list()))
	}
	return &drainer{store: store, node: cfg.NodeName, now: time.Now, log: log.With("component", "drain"), ev: ev, cfg: cfg}, nil
}

// drained returns every drained address, and by what: the config's drain
// keys and the store's active entries.
func (d *drainer) drained() map[netip.Addr]DrainEntry {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	out := map[netip.Addr]DrainEntry{}
	for _, e := range d.store.list() {
		if e.Drained {
			out[e.Addr] = e
		}
	}
	// Straight from the groups' drain keys: this runs at every view the
	// agent publishes, and a scan of every address against every group
	// was most of the agent's CPU at 100,000 targets.
	seen := map[netip.Addr]bool{}
	for _, g := range cfg.Groups {
		for _, a := range g.Drained {
			if !seen[a] { // the first group that drains it names it, as configDrain does
				seen[a] = true
				out[a] = configEntry(a, g.Zone)
			}
		}
	}
	return out
}

// configEntry is a drain by the drain key of a group in zone.
func configEntry(a netip.Addr, zone string) DrainEntry {
	return DrainEntry{Addr: a, Drained: true, By: "config", Reason: "drain key of the group of " + zone}
}

// configDrain reports whether the config file drains a, and where.
func configDrain(cfg *config.Config, a netip.Addr) (DrainEntry, bool) {
	for _, g := range cfg.Groups {
		if slices.Contains(g.Drained, a) {
			return configEntry(a, g.Zone), true
		}
	}
	return DrainEntry{}, false
}

// filter drops drained addresses from this agent's view (what the cluster
// votes on and the isolation guard counts).
func (d *drainer) filter(local []monitor.Status) []monitor.Status {
	dr := d.drained()
	if len(dr) == 0 {
		return local
	}
	out := make([]monitor.Status, 0, len(local))
	for _, s := range local {
		if _, ok := dr[s.Addr]; !ok {
			out = append(out, s)
		}
	}
	return out // a new slice: local may be shared
}

// groups returns the planner's groups with every drain applied.
//
// A group is emptied by drains only if one of them was forced: two drains
// taken at once on two agents, each of which saw another address left,
// would otherwise take a hostname's last record. Then the address drained
// last stays in DNS, and a warning says so.
func (d *drainer) groups(cfg *config.Config) []dns.Group {
	dr := d.drained()
	out := dnsGroups(cfg)
	for i := range out {
		g := &out[i]
		g.Drained = nil
		forced := false
		var last netip.Addr
		for _, a := range g.Addrs {
			if e, ok := dr[a]; ok {
				g.Drained = append(g.Drained, a)
				forced = forced || e.Force
				if !last.IsValid() || e.newer(dr[last]) {
					last = a
				}
			}
		}
		if len(g.Drained) == len(g.Addrs) && len(g.Addrs) > 0 && !forced {
			g.Drained = slices.DeleteFunc(g.Drained, func(a netip.Addr) bool { return a == last })
			if d.log != nil {
				d.log.Warn("every address of a group is drained and none with --force: keeping the one drained last in DNS", "zone", g.Zone, "hostnames", g.Hostnames, "kept", last)
			}
		}
	}
	return out
}

// setConfig applies a (re)loaded config: its drain keys and groups.
// Entries of addresses no longer configured are forgotten.
func (d *drainer) setConfig(cfg *config.Config) {
	d.mu.Lock()
	d.cfg = cfg
	d.mu.Unlock()
	d.store.retain(cfg.Addrs())
	d.apply()
}

// apply pushes the current drains to the planner, the view and the annex.
func (d *drainer) apply() {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	d.rec.SetGroups(d.groups(cfg), cfg.ReconcilePeriod.D())
	var part []byte
	if len(d.store.list()) > 0 {
		part = d.store.encode()
	}
	d.annex.setDrains(part)
	d.clu.LocalChanged()
	d.rec.Kick()
}

// errDrain is a refused drain or undrain: the HTTP status and the words.
type errDrain struct {
	status int
	msg    string
}

func (e *errDrain) Error() string { return e.msg }

// drain takes addr out of DNS. It refuses an address that is not
// configured, and, unless force, one whose removal would leave a hostname
// with no address in DNS (every other one down or drained).
func (d *drainer) drain(addr netip.Addr, by, reason string, force bool) (DrainEntry, error) {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	if !slices.Contains(cfg.Addrs(), addr) {
		return DrainEntry{}, &errDrain{http.StatusNotFound, fmt.Sprintf("%s is not a configured address", addr)}
	}
	dr := d.drained()
	if e, ok := dr[addr]; ok {
		return e, nil // already drained: nothing to do, and the first reason stands
	}
	if !force {
		if hosts := lastRecord(cfg, addr, dr, d.clu.Decision().States); len(hosts) > 0 {
			return DrainEntry{}, &errDrain{http.StatusConflict, fmt.Sprintf(
				"draining %s would leave %s with no address in DNS (every other one is down, unknown or drained); use --force to drain it anyway",
				addr, strings.Join(hosts, ", "))}
		}
	}
	e := DrainEntry{Addr: addr, Drained: true, At: d.now().UTC(), By: by, Reason: reason, Node: d.node, Force: force}
	d.commit(e)
	return e, nil
}

// undrain puts addr back. An address drained by the config file stays
// until the file changes.
func (d *drainer) undrain(addr netip.Addr, by string) (DrainEntry, error) {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	if c, ok := configDrain(cfg, addr); ok {
		return DrainEntry{}, &errDrain{http.StatusConflict, fmt.Sprintf("%s is drained by the config file (%s): remove it from drain there and reload", addr, c.Reason)}
	}
	e := DrainEntry{Addr: addr, Drained: false, At: d.now().UTC(), By: by, Node: d.node}
	cur, ok := d.store.get(addr)
	if !ok || !cur.Drained {
		// Not drained as far as this agent knows. A drain sent to a peer a
		// moment ago may still be on its way: record the undrain anyway, so
		// that it supersedes that drain when it arrives.
		if d.store.put(e) {
			if err := d.store.save(); err != nil {
				d.log.Warn("could not save drains; they hold until a restart only", "err", err)
			}
			d.annex.setDrains(d.store.encode())
		}
		return DrainEntry{Addr: addr}, nil
	}
	if !e.newer(cur) { // a clock behind the drain's: still supersede it
		e.At = cur.At.Add(time.Millisecond)
	}
	d.commit(e)
	return e, nil
}

// commit stores, saves, logs, notifies and applies an operator's entry.
func (d *drainer) commit(e DrainEntry) {
	d.store.put(e)
	if err := d.store.save(); err != nil {
		d.log.Warn("could not save drains; they hold until a restart only", "err", err)
	}
	action := map[bool]string{true: "drain", false: "undrain"}[e.Drained]
	d.log.Warn("address "+action+"ed by an operator", "addr", e.Addr, "by", e.By, "reason", e.Reason)
	d.ev.drain(e, action)
	d.apply()
}

// lastRecord names the hostnames that draining addr would leave with no
// address in DNS: none of their other addresses is agreed up and not
// drained.
func lastRecord(cfg *config.Config, addr netip.Addr, dr map[netip.Addr]DrainEntry, agreed map[netip.Addr]monitor.State) []string {
	var out []string
	for _, g := range cfg.Groups {
		if !slices.Contains(g.Addrs, addr) {
			continue
		}
		left := false
		for _, a := range g.Addrs {
			if _, drained := dr[a]; a != addr && !drained && agreed[a] == monitor.Up {
				left = true
			}
		}
		if !left {
			out = append(out, g.Hostnames...)
		}
	}
	return out
}

// sync merges the drains the peers' views carry, every interval, until ctx
// ends.
func (d *drainer) sync(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		d.mergePeers()
	}
}

// mergePeers learns newer drain entries from the peers' annexes.
func (d *drainer) mergePeers() {
	var learned []DrainEntry
	for name, v := range d.clu.PeerViews() {
		a, err := decodeAnnex(v.Annex)
		if err == nil && len(a.Drains) > 0 {
			var list []DrainEntry
			if list, err = decodeDrains(a.Drains); err == nil {
				d.mu.Lock()
				addrs := d.cfg.Addrs()
				d.mu.Unlock()
				list = slices.DeleteFunc(list, func(e DrainEntry) bool { return !slices.Contains(addrs, e.Addr) })
				learned = append(learned, d.store.merge(list)...)
			}
		}
		if err != nil {
			d.log.Debug("ignoring a peer's drains", "peer", name, "err", err)
		}
	}
	if len(learned) == 0 {
		return
	}
	for _, e := range learned {
		d.log.Info("drain learned from a peer", "addr", e.Addr, "drained", e.Drained, "by", e.By, "reason", e.Reason, "via", e.Node)
	}
	if err := d.store.save(); err != nil {
		d.log.Warn("could not save drains; they hold until a restart only", "err", err)
	}
	d.apply()
}

// DrainRequest is the body of POST /-/drain and /-/undrain.
type DrainRequest struct {
	Address string `json:"address"`
	Reason  string `json:"reason,omitempty"`
	By      string `json:"by,omitempty"`
	Force   bool   `json:"force,omitempty"`
}

// drainRoutes adds POST /-/drain and /-/undrain. They need the bearer
// token; without one configured they answer 404 and say how to turn them on.
func drainRoutes(d *drainer, token string) func(*http.ServeMux) {
	return func(mux *http.ServeMux) {
		handle := func(undrain bool) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if token == "" {
					http.Error(w, "the drain API is off: this agent has no API token (set GOAVAIL_API_TOKEN, GOAVAIL_API_TOKEN_FILE or the api_token credential)", http.StatusNotFound)
					return
				}
				got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
				if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
					w.Header().Set("WWW-Authenticate", "Bearer")
					http.Error(w, "wrong or missing API token", http.StatusUnauthorized)
					return
				}
				var req DrainRequest
				dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&req); err != nil {
					http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
					return
				}
				addr, err := netip.ParseAddr(strings.TrimSpace(req.Address))
				if err != nil {
					http.Error(w, fmt.Sprintf("%q is not an IP address", req.Address), http.StatusBadRequest)
					return
				}
				if len(req.Reason) > maxDrainText || len(req.By) > maxDrainText {
					http.Error(w, fmt.Sprintf("reason and by are limited to %d bytes", maxDrainText), http.StatusBadRequest)
					return
				}
				by := cmp.Or(req.By, "api")
				var e DrainEntry
				if undrain {
					e, err = d.undrain(addr.Unmap(), by)
				} else {
					e, err = d.drain(addr.Unmap(), by, req.Reason, req.Force)
				}
				var de *errDrain
				if errors.As(err, &de) {
					http.Error(w, de.msg, de.status)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(e)
			}
		}
		mux.HandleFunc("POST /-/drain", handle(false))
		mux.HandleFunc("POST /-/undrain", handle(true))
	}
}

var descDrained = prometheus.NewDesc("goavail_target_drained", "1 for an address taken out of DNS on purpose (goavail drain or the config's drain key).", []string{"address", "source"}, nil)

// drainCollector exposes the drained addresses at scrape time.
type drainCollector struct{ d *drainer }

func (c drainCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descDrained }

func (c drainCollector) Collect(ch chan<- prometheus.Metric) {
	for a, e := range c.d.drained() {
		source := "api"
		if e.By == "config" && e.At.IsZero() {
			source = "config"
		}
		ch <- prometheus.MustNewConstMetric(descDrained, prometheus.GaugeValue, 1, a.String(), source)
	}
}
