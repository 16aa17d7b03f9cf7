package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// Propagation is what the PropagationChecker saw of one applied change.
type Propagation struct {
	Zone   string `json:"zone"`
	Action string `json:"action"`
	Record Record `json:"record"`
	// AppliedAt is when the API answered the batch that made the change.
	AppliedAt time.Time `json:"applied_at"`
	// SeenAt is when every nameserver of the zone first answered with the
	// change (zero while it does not).
	SeenAt time.Time `json:"seen_at,omitzero"`
	// Propagation is SeenAt - AppliedAt.
	Propagation time.Duration `json:"propagation_ns,omitempty"`
	// OutageToDNS, for a removal, is SeenAt minus the first lost probe of
	// the address; 0 when unknown.
	OutageToDNS time.Duration `json:"outage_to_dns_ns,omitempty"`
	// Late is set once the bound has passed without the change being seen.
	Late        bool     `json:"late,omitempty"`
	NameServers []string `json:"name_servers,omitempty"`
	Err         string   `json:"error,omitempty"`
	// adopted: a creation the checker was not told of, checked only so
	// that removals wait for it (Propagated); it is never reported.
	adopted bool
}

// Verified reports whether the nameservers answer with the change.
func (p Propagation) Verified() bool { return !p.SeenAt.IsZero() }

// PropagationConfig wires a PropagationChecker.
type PropagationConfig struct {
	// NameServers returns the zone's authoritative nameservers, as the
	// zone object lists them: host names (queried on port 53), or
	// addresses with an optional port.
	NameServers func(ctx context.Context, zone string) ([]string, error)
	// Bound is how long a change may take to show before it is reported
	// late (logged and OnLate called); it is then checked again at every
	// Recheck until it shows.
	Bound time.Duration
	// Poll is the time between two rounds of queries; 200ms when 0.
	Poll time.Duration
	// FirstLost returns when the current outage of an address began (its
	// first lost probe), or the zero time.
	FirstLost func(netip.Addr) time.Time
	// OnVerified and OnLate, if set, are told of each change seen, and of
	// each change not seen within Bound. They must not block.
	OnVerified, OnLate func(Propagation)
	// APIHeld, if set, reports whether the DNS API must not be asked now
	// (the Reconciler's Retry-After hold, see Reconciler.RateLimited).
	// NameServers may ask the API (a zone look-up), so during a hold the
	// checker uses the nameservers it looked up last, or waits.
	APIHeld func() bool
	// OnServed, if set, is called when a creation is seen on every
	// nameserver or runs past Bound, so that the removals waiting for it
	// (Propagated) can go. It must not block.
	OnServed func()
	Log      *slog.Logger
	Now      func() time.Time
}

// PropagationChecker queries a zone's nameservers after each applied
// change until they answer without the removed address, or with the
// restored one. It only reads DNS: it never blocks or undoes a write.
type PropagationChecker struct {
	cfg  PropagationConfig
	wake chan struct{}

	mu      sync.Mutex
	pending map[string]*Propagation // by change: the latest change of a record wins
	recent  []Propagation           // the latest outcomes, newest last
	proxied int                     // proxied changes not checked (see Applied)
	ns      map[string][]string     // each zone's nameservers, as last looked up
	served  map[string]time.Time    // creations seen on every nameserver, by record, when (kept for a bound)
}

// recentKept is how many outcomes Recent returns.
const recentKept = 50

// queriesPerSecond bounds the checker's load on the zone's nameservers.
const queriesPerSecond = 100

// NewPropagationChecker returns a checker; run it with Run.
func NewPropagationChecker(cfg PropagationConfig) *PropagationChecker {
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &PropagationChecker{cfg: cfg, wake: make(chan struct{}, 1), pending: map[string]*Propagation{}, ns: map[string][]string{}, served: map[string]time.Time{}}
}

// Applied implements Verifier: it queues the changes made at at. It never
// blocks. Proxied records are not checked: Cloudflare's nameservers answer
// for them with its edge addresses, never the origin's, so a restore would
// never be seen and a removal would be seen at once.
func (c *PropagationChecker) Applied(zone string, creates, deletes []Record, at time.Time) {
	c.mu.Lock()
	add := func(action string, r Record) {
		if r.Proxied {
			c.proxied++
			c.cfg.Log.Info("dns change not checked on the nameservers: the record is proxied, and Cloudflare's nameservers answer with its edge addresses",
				"zone", zone, "action", action, "name", r.Name, "type", r.Type, "content", r.Content, "result", "unchecked")
			return
		}
		// A newer change of the same record replaces an older one.
		k := zone + "|" + r.Name + "|" + r.Type + "|" + strings.ToLower(r.Content)
		c.pending[k] = &Propagation{Zone: zone, Action: action, Record: r, AppliedAt: at}
	}
	for _, r := range creates {
		add(ActionCreate, r)
	}
	for _, r := range deletes {
		add(ActionDelete, r)
	}
	c.mu.Unlock()
	c.Recheck()
}

// Recheck asks for a round of queries now (the Reconciler's passes call it,
// so a late change is checked again at every pass). It never blocks.
func (c *PropagationChecker) Recheck() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// SkippedProxied is how many applied changes were not checked because
// their record is proxied.
func (c *PropagationChecker) SkippedProxied() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proxied
}

// Recent returns the latest outcomes (verified or late), newest last, and
// the changes still waiting.
func (c *PropagationChecker) Recent() (recent, waiting []Propagation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.pending {
		if !p.adopted {
			waiting = append(waiting, *p)
		}
	}
	slices.SortFunc(waiting, func(a, b Propagation) int { return a.AppliedAt.Compare(b.AppliedAt) })
	return slices.Clone(c.recent), waiting
}

// Run checks until ctx is done. While changes wait within their bound it
// queries every Poll; late changes are queried once per Recheck.
func (c *PropagationChecker) Run(ctx context.Context) error {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.wake:
		case <-t.C:
		}
		if active, queries := c.round(ctx); active {
			// Keep to about queriesPerSecond on the nameservers, however
			// many changes wait (a mass outage).
			t.Reset(max(c.cfg.Poll, time.Duration(queries)*time.Second/queriesPerSecond))
		}
	}
}

// Timeouts of the checker's requests: each has its own, so that one slow
// nameserver or name cannot use up the time of the others.
const (
	serversTimeout = 5 * time.Second // the zone's nameservers, looked up
	queryTimeout   = 2 * time.Second // one question to one nameserver
)

// round queries every waiting change once; it reports whether some are
// still within their bound (so polling goes on), and how many queries it
// sent. An error is kept per name and type: a failing name settles only
// its own changes.
func (c *PropagationChecker) round(ctx context.Context) (active bool, queries int) {
	c.mu.Lock()
	byZone := map[string][]*Propagation{}
	for _, p := range c.pending {
		byZone[p.Zone] = append(byZone[p.Zone], p)
	}
	c.mu.Unlock()
	type answer struct {
		seen seenOn
		err  error
	}
	for zone, ps := range byZone {
		servers, serr := c.zoneServers(ctx, zone)
		answers := map[string]answer{} // by name|type
		for _, p := range ps {
			q := p.Record.Name + "|" + p.Record.Type
			if _, done := answers[q]; done {
				continue
			}
			a := answer{err: serr}
			if serr == nil {
				a.seen, a.err = c.ask(ctx, servers, p.Record.Name, p.Record.Type)
				queries += len(servers)
			}
			answers[q] = a
		}
		now := c.cfg.Now()
		for _, p := range ps {
			a := answers[p.Record.Name+"|"+p.Record.Type]
			if c.settle(zone, p, servers, a.seen, a.err, now) {
				active = true
			}
		}
	}
	return active, queries
}

// settle updates one waiting change after a round; it reports whether it
// is still waiting within its bound.
func (c *PropagationChecker) settle(zone string, p *Propagation, servers []string, seen seenOn, err error, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := zone + "|" + p.Record.Name + "|" + p.Record.Type + "|" + strings.ToLower(p.Record.Content)
	if c.pending[k] != p {
		return false // replaced by a newer change meanwhile
	}
	p.NameServers = servers
	p.Err = ""
	if err != nil {
		p.Err = err.Error()
	}
	is := func(s string) bool { return sameContent(s, p.Record.Content) }
	done := slices.ContainsFunc(seen.every, is)
	if p.Action == ActionDelete {
		done = !slices.ContainsFunc(seen.some, is)
	}
	served := func() {
		if p.Action == ActionCreate && c.cfg.OnServed != nil {
			c.cfg.OnServed()
		}
	}
	if p.adopted && ((err == nil && done) || now.Sub(p.AppliedAt) >= c.cfg.Bound) {
		delete(c.pending, k)
		c.served[k] = now
		served()
		return false
	}
	if err == nil && done {
		defer served()
		p.SeenAt, p.Err = now, ""
		p.Propagation = now.Sub(p.AppliedAt)
		if p.Action == ActionDelete && c.cfg.FirstLost != nil {
			if a, perr := netip.ParseAddr(p.Record.Content); perr == nil {
				if lost := c.cfg.FirstLost(a.Unmap()); !lost.IsZero() && lost.Before(now) {
					p.OutageToDNS = now.Sub(lost)
				}
			}
		}
		delete(c.pending, k)
		if p.Action == ActionCreate {
			c.served[k] = now
		}
		c.remember(*p)
		attrs := []any{"zone", zone, "action", p.Action, "name", p.Record.Name, "type", p.Record.Type, "content", p.Record.Content,
			"result", "verified", "propagation", p.Propagation.Round(time.Millisecond), "nameservers", strings.Join(servers, ",")}
		if p.OutageToDNS > 0 {
			attrs = append(attrs, "outage_to_dns", p.OutageToDNS.Round(time.Millisecond))
		}
		if p.Late {
			attrs = append(attrs, "late", true)
		}
		c.cfg.Log.Info("dns change verified: the zone's nameservers answer with it", attrs...)
		if c.cfg.OnVerified != nil {
			c.cfg.OnVerified(*p)
		}
		return false
	}
	if now.Sub(p.AppliedAt) < c.cfg.Bound {
		return true
	}
	if !p.Late {
		defer served()
		p.Late = true
		c.remember(*p)
		c.cfg.Log.Warn("dns change not seen on the zone's nameservers within the bound; checking again at every pass",
			"zone", zone, "action", p.Action, "name", p.Record.Name, "type", p.Record.Type, "content", p.Record.Content,
			"result", "unverified", "bound", c.cfg.Bound, "nameservers", strings.Join(servers, ","), "err", p.Err)
		if c.cfg.OnLate != nil {
			c.cfg.OnLate(*p)
		}
	}
	return false
}

func (c *PropagationChecker) remember(p Propagation) {
	c.recent = append(c.recent, p)
	if len(c.recent) > recentKept {
		c.recent = slices.Delete(c.recent, 0, len(c.recent)-recentKept)
	}
}

func sameContent(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	if err1 == nil && err2 == nil {
		return x.Unmap() == y.Unmap()
	}
	return strings.EqualFold(a, b)
}

// zoneServers returns the zone's nameservers: looked up, unless the API is
// on hold, and then as last looked up (an error when never).
func (c *PropagationChecker) zoneServers(ctx context.Context, zone string) ([]string, error) {
	if c.cfg.APIHeld != nil && c.cfg.APIHeld() {
		c.mu.Lock()
		servers, ok := c.ns[zone]
		c.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("nameservers of zone %s: not looked up while the API is on hold (Retry-After)", zone)
		}
		return servers, nil
	}
	ctx, cancel := context.WithTimeout(ctx, serversTimeout)
	defer cancel()
	servers, err := c.servers(ctx, zone)
	if err == nil {
		c.mu.Lock()
		c.ns[zone] = servers
		c.mu.Unlock()
	}
	return servers, err
}

// servers resolves the zone's nameservers to host:port addresses.
func (c *PropagationChecker) servers(ctx context.Context, zone string) ([]string, error) {
	if c.cfg.NameServers == nil {
		return nil, errors.New("no nameserver source")
	}
	names, err := c.cfg.NameServers(ctx, zone)
	if err != nil {
		return nil, fmt.Errorf("nameservers of zone %s: %w", zone, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("zone %s lists no nameservers", zone)
	}
	var out []string
	for _, n := range names {
		if ap, err := netip.ParseAddrPort(n); err == nil {
			out = append(out, ap.String())
			continue
		}
		if a, err := netip.ParseAddr(n); err == nil {
			out = append(out, netip.AddrPortFrom(a, 53).String())
			continue
		}
		addrs, err := net.DefaultResolver.LookupHost(ctx, n)
		if err != nil || len(addrs) == 0 {
			return nil, fmt.Errorf("resolve nameserver %s of zone %s: %w", n, zone, err)
		}
		out = append(out, net.JoinHostPort(addrs[0], "53"))
	}
	return out, nil
}

// seenOn is what the zone's servers answer for one name and type.
type seenOn struct {
	every, some []string // contents every server gives, and some server gives
}

// ask queries every server for name's records of type typ. A create is
// seen when every server has it, a removal when no server has it.
func (c *PropagationChecker) ask(ctx context.Context, servers []string, name, typ string) (seenOn, error) {
	qtype := mdns.TypeA
	if typ == "AAAA" {
		qtype = mdns.TypeAAAA
	}
	count := map[string]int{}
	for _, s := range servers {
		got, err := query(ctx, s, name, qtype)
		if err != nil {
			return seenOn{}, err
		}
		for _, g := range got {
			count[g]++
		}
	}
	var out seenOn
	for content, n := range count {
		out.some = append(out.some, content)
		if n == len(servers) {
			out.every = append(out.every, content)
		}
	}
	return out, nil
}

// query asks one server over UDP (TCP when the answer is truncated),
// within queryTimeout.
func query(ctx context.Context, server, name string, qtype uint16) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), qtype)
	m.RecursionDesired = false
	cl := &mdns.Client{Timeout: queryTimeout}
	r, _, err := cl.ExchangeContext(ctx, m, server)
	if err == nil && r.Truncated {
		cl.Net = "tcp"
		r, _, err = cl.ExchangeContext(ctx, m, server)
	}
	if err != nil {
		return nil, fmt.Errorf("query %s for %s: %w", server, name, err)
	}
	if r.Rcode != mdns.RcodeSuccess && r.Rcode != mdns.RcodeNameError {
		return nil, fmt.Errorf("query %s for %s: %s", server, name, mdns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *mdns.A:
			out = append(out, v.A.String())
		case *mdns.AAAA:
			out = append(out, v.AAAA.String())
		}
	}
	return out, nil
}
