package rfc2136

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/goavail/goavail/dns"
)

// Algorithms are the TSIG algorithms goavail signs with, by the name the
// config key tsig_algorithm takes.
var Algorithms = map[string]string{
	"hmac-sha256": mdns.HmacSHA256,
	"hmac-sha512": mdns.HmacSHA512,
	"hmac-sha1":   mdns.HmacSHA1,
}

// DefaultAlgorithm is the TSIG algorithm when none is configured.
const DefaultAlgorithm = "hmac-sha256"

// DefaultTimeout bounds one exchange with the server when Options.Timeout
// is zero.
const DefaultTimeout = 10 * time.Second

// defaultTTL is the TTL of records created from a group whose TTL is 1
// (Cloudflare's "automatic"), which a DNS server has no meaning for.
const defaultTTL = 60

// Options configure a Provider.
type Options struct {
	// Server is the zone's primary, host:port.
	Server string
	// KeyName is the TSIG key's name, as the server knows it.
	KeyName string
	// Algorithm is a key of Algorithms; "" is DefaultAlgorithm.
	Algorithm string
	// Secret is the TSIG secret, base64 as BIND's key statement has it.
	Secret string
	// Names gives the managed hostnames of a zone (fully qualified, no
	// trailing dot): Records reads these. It is called at every listing,
	// so a reloaded config takes effect at once.
	Names func(zone string) []string
	// FenceLabel is the fence record's first label(s) (config fence_name).
	FenceLabel string
	// Timeout bounds one exchange; 0 is DefaultTimeout.
	Timeout time.Duration
	// NameServerPort is the port the zone's NS set answers on, for the
	// propagation check (NameServers); 0 is 53.
	NameServerPort int
	// Observe, if set, is told of every exchange: "list" (one query) or
	// "batch" (one UPDATE), its error and how long it took.
	Observe func(op string, err error, took time.Duration)
}

// Provider reads and writes one server's zones. It remembers, per zone,
// the RRsets it last read (and those its own writes left), which is what
// each write's prerequisites name.
type Provider struct {
	o      Options
	client *mdns.Client

	mu    sync.Mutex
	read  map[string]map[setKey][]mdns.RR // zone -> RRset -> its records as last read or written
	wild  map[string]map[setKey]bool      // zone -> RRsets read with records a wildcard synthesized (wildcard.go)
	ns    map[string]nsLookup             // zone -> its nameservers as last looked up (nameservers.go)
	cname map[string]map[string]string    // zone -> managed name -> the CNAME's target it was last read with (cname.go)
}

// setKey names an RRset: owner name (fully qualified, with the dot) and type.
type setKey struct {
	name string
	typ  uint16
}

// New checks o and builds a Provider; it sends nothing.
func New(o Options) (*Provider, error) {
	var errs []error
	if _, _, err := net.SplitHostPort(o.Server); err != nil {
		errs = append(errs, fmt.Errorf("server %q: want host:port, e.g. 192.0.2.53:53: %w", o.Server, err))
	}
	if o.Algorithm == "" {
		o.Algorithm = DefaultAlgorithm
	}
	alg, ok := Algorithms[o.Algorithm]
	if !ok {
		errs = append(errs, fmt.Errorf("tsig_algorithm %q: must be hmac-sha256, hmac-sha512 or hmac-sha1", o.Algorithm))
	}
	if o.KeyName == "" {
		errs = append(errs, errors.New("tsig_key_name: missing; name the TSIG key the server grants updates to"))
	}
	if o.Secret == "" {
		errs = append(errs, fmt.Errorf("TSIG key %s: no secret; set GOAVAIL_TSIG_SECRET, GOAVAIL_TSIG_SECRET_FILE or the systemd credential tsig_secret", o.KeyName))
	} else if _, err := base64.StdEncoding.DecodeString(o.Secret); err != nil {
		errs = append(errs, fmt.Errorf("TSIG key %s: the secret is not base64 (as in BIND's key statement): %w", o.KeyName, err))
	}
	if o.Names == nil {
		errs = append(errs, errors.New("no managed names"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	o.KeyName = mdns.CanonicalName(o.KeyName)
	o.Algorithm = alg
	c := &mdns.Client{Net: "tcp", Timeout: o.Timeout, TsigSecret: map[string]string{o.KeyName: o.Secret}}
	return &Provider{o: o, client: c, read: map[string]map[setKey][]mdns.RR{}, wild: map[string]map[setKey]bool{}, ns: map[string]nsLookup{}, cname: map[string]map[string]string{}}, nil
}

// BatchSize is the most changes the core puts in one UPDATE. Each UPDATE
// also names every record of the RRsets it changes; one that would not
// fit in a DNS message (64 KiB) is refused before it is sent and the core
// splits it.
func (p *Provider) BatchSize() int { return 1000 }

// KeyName is the TSIG key's name, fully qualified.
func (p *Provider) KeyName() string { return p.o.KeyName }

// Records queries the primary for every managed name of zone and each of
// types, over one TCP connection, each query and answer signed with the
// TSIG key, and remembers what it read.
func (p *Provider) Records(ctx context.Context, zone string, types []string) ([]dns.Record, error) {
	var keys []setKey
	for _, n := range p.o.Names(zone) {
		for _, t := range types {
			tt, ok := mdns.StringToType[strings.ToUpper(t)]
			if !ok {
				return nil, fmt.Errorf("list records of zone %s: unknown record type %q", zone, t)
			}
			keys = append(keys, setKey{mdns.Fqdn(strings.ToLower(n)), tt})
		}
	}
	sets, err := p.query(ctx, zone, keys)
	if err != nil {
		return nil, err
	}
	var out []dns.Record
	for _, k := range keys {
		for _, rr := range sets[k] {
			out = append(out, record(rr))
		}
	}
	return out, nil
}

// query reads the RRsets keys of zone from the primary and remembers them.
func (p *Provider) query(ctx context.Context, zone string, keys []setKey) (map[setKey][]mdns.RR, error) {
	sets, err := p.queryConn(ctx, zone, keys)
	if err != nil {
		return nil, err
	}
	if err := p.dropSynthesized(ctx, zone, sets); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	z := p.read[zone]
	if z == nil {
		z = map[setKey][]mdns.RR{}
		p.read[zone] = z
	}
	for k, s := range sets {
		z[k] = s
	}
	return sets, nil
}

func (p *Provider) queryConn(ctx context.Context, zone string, keys []setKey) (map[setKey][]mdns.RR, error) {
	what := fmt.Sprintf("list records of zone %s on %s", zone, p.o.Server)
	if len(keys) == 0 {
		return map[setKey][]mdns.RR{}, nil
	}
	dctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	start := time.Now()
	conn, err := p.client.DialContext(dctx, p.o.Server)
	if err != nil {
		err = fmt.Errorf("%s: %w", what, err)
		p.observe("list", err, time.Since(start))
		return nil, err
	}
	defer conn.Close()
	// Each query has the timeout to itself (the client's, within ctx's
	// deadline), not the listing as a whole: a zone of many names on a
	// distant primary takes longer than one exchange.
	sets := make(map[setKey][]mdns.RR, len(keys))
	for _, k := range keys {
		q := new(mdns.Msg)
		q.SetQuestion(k.name, k.typ)
		q.RecursionDesired = false
		q.SetTsig(p.o.KeyName, p.o.Algorithm, 300, time.Now().Unix()) // the answers the plan rests on are authenticated too
		// A Conn of its own per query on the one TCP connection: a Conn
		// signs each message as the continuation of the one before (as
		// in a zone transfer), which the server refuses for a new query.
		r, _, err := p.client.ExchangeWithConnContext(ctx, q, &mdns.Conn{Conn: conn.Conn})
		if err != nil || r.Rcode != mdns.RcodeSuccess && r.Rcode != mdns.RcodeNameError {
			err := classify(fmt.Sprintf("%s: query %s %s", what, k.name, mdns.TypeToString[k.typ]), p.o.KeyName, r, err)
			p.observe("list", err, time.Since(start))
			return nil, err
		}
		p.observe("list", nil, time.Since(start)) // one query, one request
		start = time.Now()
		if !r.Authoritative {
			return nil, &dns.PermanentError{Err: fmt.Errorf("%s: the answer for %s is not authoritative: set the RFC2136 server to the zone's primary", what, k.name)}
		}
		set := []mdns.RR{}
		for _, rr := range r.Answer {
			if h := rr.Header(); h.Rrtype == k.typ && strings.EqualFold(h.Name, k.name) {
				set = append(set, rr)
			}
		}
		sets[k] = set
		p.noteCNAME(zone, k, r.Answer)
	}
	return sets, nil
}

// Apply makes creates and deletes in one UPDATE, conditional on the
// RRsets it changes being as last read.
func (p *Provider) Apply(ctx context.Context, zone string, creates, deletes []dns.Record) error {
	u, err := p.newUpdate(zone, creates, deletes)
	if err != nil {
		return err
	}
	if err := p.send(ctx, zone, u, fmt.Sprintf("update %d creates, %d deletes", len(creates), len(deletes))); err != nil {
		return err
	}
	p.commit(zone, u)
	return nil
}

// observe reports one exchange.
func (p *Provider) observe(op string, err error, took time.Duration) {
	if p.o.Observe != nil {
		p.o.Observe(op, err, took)
	}
}

// record is rr as the core sees it.
func record(rr mdns.RR) dns.Record {
	h := rr.Header()
	name := strings.TrimSuffix(strings.ToLower(h.Name), ".")
	typ := mdns.TypeToString[h.Rrtype]
	content := content(rr)
	return dns.Record{ID: name + "/" + typ + "/" + content, Name: name, Type: typ, Content: content, TTL: int(h.Ttl)}
}

// content is rr's data as text: the address for A and AAAA, the joined
// strings for TXT, else the presentation format's data.
func content(rr mdns.RR) string {
	switch v := rr.(type) {
	case *mdns.A:
		return v.A.String()
	case *mdns.AAAA:
		return v.AAAA.String()
	case *mdns.TXT:
		return strings.Join(v.Txt, "")
	}
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

// toRR builds the resource record of r, with a TTL for creates.
func toRR(r dns.Record) (mdns.RR, error) {
	ttl := uint32(r.TTL)
	if r.TTL <= 1 {
		ttl = defaultTTL
	}
	h := mdns.RR_Header{Name: mdns.Fqdn(strings.ToLower(r.Name)), Class: mdns.ClassINET, Ttl: ttl}
	switch strings.ToUpper(r.Type) {
	case "A", "AAAA":
		ip := net.ParseIP(r.Content)
		if ip == nil {
			return nil, fmt.Errorf("record %s: %q is not an address", r, r.Content)
		}
		if r.Type == "A" {
			h.Rrtype = mdns.TypeA
			return &mdns.A{Hdr: h, A: ip.To4()}, nil
		}
		h.Rrtype = mdns.TypeAAAA
		return &mdns.AAAA{Hdr: h, AAAA: ip}, nil
	case "TXT":
		h.Rrtype = mdns.TypeTXT
		return &mdns.TXT{Hdr: h, Txt: []string{strings.Trim(r.Content, `"`)}}, nil
	}
	rr, err := mdns.NewRR(fmt.Sprintf("%s %d IN %s %s", h.Name, ttl, r.Type, r.Content))
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", r, err)
	}
	return rr, nil
}

// sameData reports whether a and b are the same record, TTL aside.
func sameData(a, b mdns.RR) bool {
	return a.Header().Rrtype == b.Header().Rrtype && strings.EqualFold(a.Header().Name, b.Header().Name) && content(a) == content(b) && mdns.IsDuplicate(a, b)
}

// without is set less the records of del.
func without(set, del []mdns.RR) []mdns.RR {
	return slices.DeleteFunc(slices.Clone(set), func(rr mdns.RR) bool {
		return slices.ContainsFunc(del, func(d mdns.RR) bool { return sameData(rr, d) })
	})
}
