package agent

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/monitor"
	"github.com/goavail/goavail/notify"
)

// This file wires what the dns package does about changes that do not go
// through at once: the quarantine (in /status, goavail status, a metric and
// one notification per change), the propagation check (a histogram, the
// log and /status, a notification when late), and the memory of
// removed records every agent shares and merges in the view annex.

// outages remembers, per address, when its current run of lost probes
// began: the start of the outage for the "outage to DNS" figure.
type outages struct {
	mu    sync.Mutex
	since map[netip.Addr]time.Time
}

func newOutages() *outages { return &outages{since: map[netip.Addr]time.Time{}} }

// observe takes every probe result.
func (o *outages) observe(r monitor.Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if r.OK {
		delete(o.since, r.Addr)
		return
	}
	if _, ok := o.since[r.Addr]; !ok {
		at := r.Sent
		if at.IsZero() {
			at = r.At
		}
		o.since[r.Addr] = at
	}
}

// firstLost is when a's current outage began, or zero.
func (o *outages) firstLost(a netip.Addr) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.since[a]
}

// dnsMetrics are the metrics of quarantine and propagation.
type dnsMetrics struct {
	propagation, outageToDNS prometheus.Histogram
	late                     prometheus.Counter
}

// registerDNS adds the quarantine gauge and the propagation metrics.
func (m *metrics) registerDNS(rec *dns.Reconciler) *dnsMetrics {
	buckets := []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300}
	d := &dnsMetrics{
		propagation: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "goavail_dns_propagation_seconds",
			Help: "Time from the API applying a change to every nameserver of the zone answering with it.", Buckets: buckets}),
		outageToDNS: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "goavail_dns_outage_to_dns_seconds",
			Help: "Time from an address's first lost probe to every nameserver of the zone answering without it.", Buckets: buckets}),
		late: prometheus.NewCounter(prometheus.CounterOpts{Name: "goavail_dns_propagation_late_total",
			Help: "Applied changes not seen on the zone's nameservers within propagation_bound."}),
	}
	m.reg.MustRegister(d.propagation, d.outageToDNS, d.late,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "goavail_dns_quarantined_changes",
			Help: "DNS changes the DNS provider refuses for what they are (CNAME conflict, over-long comment, ...), held out of the batches and retried slowly."},
			func() float64 { return float64(len(rec.Quarantined())) }),
		tierCollector{rec})
	return d
}

var descTier = prometheus.NewDesc("goavail_hostname_tier", "1 for the tier serving a hostname's records of one type (primary, backup, fallback, fail-open, fail-static), for the groups with backup or fallback addresses.", []string{"hostname", "type", "tier"}, nil)

// tierCollector reads the tiers of the latest pass at scrape time.
type tierCollector struct{ rec *dns.Reconciler }

func (c tierCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descTier }

func (c tierCollector) Collect(ch chan<- prometheus.Metric) {
	for k, t := range c.rec.Tiers() {
		name, typ, _ := strings.Cut(k, "|")
		ch <- prometheus.MustNewConstMetric(descTier, prometheus.GaugeValue, 1, name, typ, string(t))
	}
}

// newPropagation builds the propagation checker, or nil when the check is
// off or nothing is written.
// m gives the metrics, which exist only once the Reconciler does.
// held says whether the API is on a Retry-After hold (the Reconciler's);
// kick asks the Reconciler for a pass when a creation is seen or runs
// late, so that the removals waiting for it (make before break) go then.
func newPropagation(cfg *config.Config, provider dns.Provider, dryRun bool, lost *outages, m func() *dnsMetrics, held func() bool, ev *events, kick func(), log *slog.Logger) *dns.PropagationChecker {
	ns, ok := provider.(interface {
		NameServers(context.Context, string) ([]string, error)
	})
	if dryRun || !ok || cfg.Cloudflare.PropagationBound == 0 {
		return nil
	}
	return dns.NewPropagationChecker(dns.PropagationConfig{
		NameServers: ns.NameServers, Bound: cfg.Cloudflare.PropagationBound.D(), FirstLost: lost.firstLost, APIHeld: held,
		OnServed: kick,
		OnVerified: func(p dns.Propagation) {
			ev.h.verified(p)
			m().propagation.Observe(p.Propagation.Seconds())
			if p.OutageToDNS > 0 {
				m().outageToDNS.Observe(p.OutageToDNS.Seconds())
			}
		},
		OnLate: func(p dns.Propagation) {
			m().late.Inc()
			ev.late(p, cfg.Cloudflare.PropagationBound.D())
		},
		Log: log.With("component", "propagation"),
	})
}

// late notifies a change not seen on the nameservers within the bound.
func (e *events) late(p dns.Propagation, bound time.Duration) {
	msg := fmt.Sprintf("not seen on the zone's nameservers within %s", bound)
	if p.Err != "" {
		msg += ": " + p.Err
	}
	e.notify(notify.Event{Kind: notify.KindDNSChange, At: time.Now(), Node: e.node, Zone: p.Zone, Name: p.Record.Name, Type: p.Record.Type,
		Content: p.Record.Content, Action: p.Action, Mode: "unverified", Error: msg})
}

// quarantined notifies each change the pass quarantined, once.
func (e *events) quarantined(r dns.PassReport) {
	for _, p := range r.Plans {
		for _, q := range p.Quarantined {
			if q.New {
				e.notify(notify.Event{Kind: notify.KindDNSChange, At: q.Since, Node: e.node, Zone: q.Zone, Name: q.Record.Name, Type: q.Record.Type,
					Content: q.Record.Content, Action: q.Action, Mode: "quarantined",
					Error: fmt.Sprintf("the DNS provider refuses it (code %d: %s); retried at %s or when the zone or config changes", q.Code, q.Message, q.NextTry.UTC().Format(time.RFC3339))})
			}
		}
	}
}

// sharedMemory keeps every agent's memory of removed records the same:
// each agent publishes its memory in its view annex, and merges every
// peer's (dns.Memory.Merge: per record the latest removal or restore
// wins), and saves it in its state file. So a new writer restores exactly
// what an earlier one removed, even one cut off by a partition before its
// memory reached the others, and a restore travels as a tombstone.
type sharedMemory struct {
	clu     peerViews
	annexes *annexBox // this agent's annex, shared with the drains
	mem     *dns.Memory
	log     *slog.Logger

	mu        sync.Mutex
	published []byte            // the memory last published
	merged    map[string][]byte // each peer's annex last merged
}

// peerViews is the part of the cluster sharedMemory reads.
type peerViews interface {
	PeerViews() map[string]cluster.View
}

func newSharedMemory(clu peerViews, annexes *annexBox, mem *dns.Memory, log *slog.Logger) *sharedMemory {
	return &sharedMemory{clu: clu, annexes: annexes, mem: mem, log: log, merged: map[string][]byte{}}
}

// sync merges the peers' memories that changed, then publishes this
// agent's if it changed. It is cheap when nothing changed.
func (s *sharedMemory) sync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	views := s.clu.PeerViews()
	for peer := range s.merged {
		if _, ok := views[peer]; !ok {
			delete(s.merged, peer) // forgotten by the cluster
		}
	}
	for peer, v := range views {
		if len(v.Annex) == 0 || bytes.Equal(v.Annex, s.merged[peer]) {
			continue
		}
		if err := s.merge(peer, v.Annex); err != nil {
			s.log.Warn("could not merge a peer's memory of removed records; keeping this agent's", "peer", peer, "err", err)
		}
		s.merged[peer] = bytes.Clone(v.Annex) // an unreadable one is not tried again until it changes
	}
	b, err := s.mem.Export()
	if err != nil || bytes.Equal(b, s.published) {
		return
	}
	enc, err := packRemoved(b)
	if err != nil {
		s.log.Warn("could not share the memory of removed records", "err", err)
		return
	}
	s.setRemoved(enc)
	s.published = b
}

// merge folds the memory in a peer's annex into this agent's.
func (s *sharedMemory) merge(peer string, raw []byte) error {
	a, err := decodeAnnex(raw)
	if err != nil || len(a.Removed) == 0 {
		return err
	}
	mem, err := unpackRemoved(a.Removed)
	if err != nil {
		return err
	}
	if err := s.mem.Merge(mem); err != nil {
		return err
	}
	s.log.Debug("merged a peer's memory of removed records", "peer", peer, "records", s.mem.Len())
	return nil
}

// Removed-record memories over packThreshold bytes travel gzipped, as a
// JSON string "gzip:<base64>": every view carries the annex, and 10,000
// removed records are about 1.5 MB of JSON but a tenth of that gzipped.
const (
	packThreshold = 4 << 10
	packPrefix    = "gzip:"
	maxUnpacked   = 64 << 20 // a bound on what a peer's annex may inflate to
)

// packRemoved encodes a memory export for the annex.
func packRemoved(b []byte) (json.RawMessage, error) {
	if len(b) <= packThreshold {
		return b, nil
	}
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return json.Marshal(packPrefix + base64.StdEncoding.EncodeToString(z.Bytes()))
}

// unpackRemoved decodes what packRemoved made: a JSON object as it is, or
// a gzipped string, inflated to at most maxUnpacked bytes.
func unpackRemoved(raw json.RawMessage) ([]byte, error) {
	var packed string
	if err := json.Unmarshal(raw, &packed); err != nil {
		return raw, nil // not a string: the export itself
	}
	data, ok := strings.CutPrefix(packed, packPrefix)
	if !ok {
		return nil, errors.New("removed-record memory: a string without the gzip: prefix")
	}
	z, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("removed-record memory: %w", err)
	}
	r, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("removed-record memory: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(r, maxUnpacked+1))
	if err != nil {
		return nil, fmt.Errorf("removed-record memory: %w", err)
	}
	if len(b) > maxUnpacked {
		return nil, fmt.Errorf("removed-record memory: inflates past %d bytes", maxUnpacked)
	}
	return b, nil
}

// setRemoved sets this agent's part of its annex (the drains are the
// other part: annexBox keeps both). Called with s.mu held.
func (s *sharedMemory) setRemoved(b json.RawMessage) {
	s.annexes.set(func(a *annex) { a.Removed = b })
}

// run syncs every interval until ctx is done.
func (s *sharedMemory) run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.sync()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// DNSStatus is the part of /status about changes that did not go through
// at once, and about propagation.
type DNSStatus struct {
	Quarantined []dns.Quarantined `json:"quarantined,omitempty"`
	Propagation []dns.Propagation `json:"propagation,omitempty"` // latest outcomes, newest last
	Unverified  []dns.Propagation `json:"unverified,omitempty"`  // applied, not yet seen on the nameservers
	// UncheckedProxied counts the applied changes of proxied records, which
	// the propagation check skips (the nameservers answer with Cloudflare's
	// edge addresses).
	UncheckedProxied int `json:"unchecked_proxied,omitempty"`
	// Foreign are the zones whose fence another deployment wrote last.
	Foreign []dns.ForeignFence `json:"foreign_fences,omitempty"`
}

func addDNSStatus(doc *StatusDoc, rec *dns.Reconciler, pc *dns.PropagationChecker) {
	doc.DNS = &DNSStatus{Quarantined: rec.Quarantined()}
	for _, p := range rec.Last().Plans {
		if p.Foreign != nil {
			doc.DNS.Foreign = append(doc.DNS.Foreign, *p.Foreign)
		}
	}
	if pc != nil {
		doc.DNS.Propagation, doc.DNS.Unverified = pc.Recent()
		doc.DNS.UncheckedProxied = pc.SkippedProxied()
	}
}
