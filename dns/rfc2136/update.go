package rfc2136

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/goavail/goavail/dns"
)

// update is one UPDATE message being built: the RRsets it changes, as
// read (its prerequisites) and as they will be once it is applied.
type update struct {
	zone  string
	msg   *mdns.Msg
	after map[setKey][]mdns.RR
	used  []setKey // the RRsets named by "RRset exists (value dependent)"
}

// newUpdate builds the UPDATE for creates and deletes: a prerequisite per
// RRset they touch, naming every record of it as read, then the deletes,
// then the creates.
func (p *Provider) newUpdate(zone string, creates, deletes []dns.Record) (*update, error) {
	u := &update{zone: zone, msg: new(mdns.Msg), after: map[setKey][]mdns.RR{}}
	u.msg.SetUpdate(mdns.Fqdn(zone))
	var dels, adds []mdns.RR
	for _, rs := range []struct {
		recs []dns.Record
		to   *[]mdns.RR
	}{{deletes, &dels}, {creates, &adds}} {
		for _, r := range rs.recs {
			rr, err := toRR(r)
			if err != nil {
				return nil, fmt.Errorf("update zone %s: %w", zone, err)
			}
			*rs.to = append(*rs.to, rr)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.refuseAtCNAME(zone, adds); err != nil {
		return nil, err
	}
	for _, rr := range append(slices.Clone(dels), adds...) {
		k := setKey{rr.Header().Name, rr.Header().Rrtype}
		if _, ok := u.after[k]; ok {
			continue
		}
		read, ok := p.read[zone][k]
		if !ok {
			return nil, fmt.Errorf("update zone %s: %s %s was not listed before the write, so the write cannot be made conditional on it", zone, k.name, mdns.TypeToString[k.typ])
		}
		u.require(k, read)
		u.after[k] = read
	}
	for i, rr := range dels {
		k := setKey{rr.Header().Name, rr.Header().Rrtype}
		// Delete the record as it was read: its data exactly as the server has it.
		if j := slices.IndexFunc(u.after[k], func(x mdns.RR) bool { return sameData(x, rr) }); j >= 0 {
			dels[i] = mdns.Copy(u.after[k][j])
		}
		u.after[k] = without(u.after[k], []mdns.RR{rr})
	}
	for _, rr := range adds {
		k := setKey{rr.Header().Name, rr.Header().Rrtype}
		// An RRset has one TTL, and named gives the whole set the TTL of
		// a record added to it: a record added to a set that keeps
		// records takes their TTL, so that the records already there
		// (some maybe not goavail's) keep theirs.
		if rest := without(u.after[k], []mdns.RR{rr}); len(rest) > 0 {
			rr.Header().Ttl = rest[0].Header().Ttl
		}
		u.after[k] = append(without(u.after[k], []mdns.RR{rr}), rr)
	}
	u.remove(dels)
	u.msg.Insert(adds)
	return u, nil
}

// require makes the update conditional on the RRset k being exactly read:
// "RRset exists (value dependent)" naming every record, or "RRset does not
// exist" when it had none (RFC 2136 §2.4.2, §2.4.3).
func (u *update) require(k setKey, read []mdns.RR) {
	if len(read) == 0 {
		u.msg.RRsetNotUsed([]mdns.RR{&mdns.ANY{Hdr: mdns.RR_Header{Name: k.name, Rrtype: k.typ}}})
		return
	}
	u.used = append(u.used, k)
	cp := make([]mdns.RR, 0, len(read))
	for _, rr := range read {
		cp = append(cp, mdns.Copy(rr))
	}
	u.msg.Used(cp)
}

// remove adds deletes of single records (RFC 2136 §2.5.4) on copies.
func (u *update) remove(rrs []mdns.RR) {
	cp := make([]mdns.RR, 0, len(rrs))
	for _, rr := range rrs {
		cp = append(cp, mdns.Copy(rr))
	}
	u.msg.Remove(cp)
}

// tsigRoom is room left for the TSIG record: key and algorithm names, the
// MAC (64 bytes for hmac-sha512) and fixed fields.
const tsigRoom = 2*255 + 64 + 32

// send signs and sends u, and maps the answer into the core's classes.
// After NXRRSET it asks which RRsets u named exist of their own
// (wildcard.go), so that the next listing reads a synthesized one empty.
func (p *Provider) send(ctx context.Context, zone string, u *update, what string) error {
	parent := ctx
	what = fmt.Sprintf("%s in zone %s on %s", what, zone, p.o.Server)
	u.msg.Compress = true
	if n := u.msg.Len() + tsigRoom; n > mdns.MaxMsgSize {
		// The core splits a refused batch in halves until each fits.
		return &dns.RejectedError{Message: "message too large", TooLarge: true, Err: fmt.Errorf("%s: the UPDATE would be %d bytes, over DNS's %d", what, n, mdns.MaxMsgSize)}
	}
	u.msg.SetTsig(p.o.KeyName, p.o.Algorithm, 300, time.Now().Unix())
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	start := time.Now()
	r, _, err := p.client.ExchangeContext(ctx, u.msg, p.o.Server)
	err = classify(what, p.o.KeyName, r, err)
	p.observe("batch", err, time.Since(start))
	if r != nil && r.Rcode == mdns.RcodeNXRrset && len(u.used) > 0 {
		if lerr := p.learnSynthesized(parent, zone, u.used); lerr != nil {
			err = fmt.Errorf("%w (and asking which RRsets exist of their own failed: %v)", err, lerr)
		}
	}
	return err
}

// commit records the RRsets an applied update left.
func (p *Provider) commit(zone string, u *update) {
	p.mu.Lock()
	defer p.mu.Unlock()
	z := p.read[zone]
	if z == nil {
		z = map[setKey][]mdns.RR{}
		p.read[zone] = z
	}
	for k, s := range u.after {
		z[k] = s
	}
}

// FenceName is the fence record's name in zone: <fence_name>.<zone>.
func (p *Provider) FenceName(zone string) string { return p.o.FenceLabel + "." + zone }

// ReadFence queries the TXT records at the zone's fence name.
func (p *Provider) ReadFence(ctx context.Context, zone string) (dns.ZoneFence, error) {
	name := p.FenceName(zone)
	k := setKey{mdns.Fqdn(strings.ToLower(name)), mdns.TypeTXT}
	sets, err := p.query(ctx, zone, []setKey{k})
	if err != nil {
		return dns.ZoneFence{Name: name}, fmt.Errorf("read the fence record %s: %w", name, err)
	}
	recs := make([]dns.Record, 0, len(sets[k]))
	for _, rr := range sets[k] {
		recs = append(recs, record(rr))
	}
	return dns.SplitFence(name, recs), nil
}

// ApplyFenced sends one UPDATE with the changes that also replaces the
// fence's stamps with stamp (adding the genesis record when f has none),
// conditional on every RRset it touches, the fence's TXT RRset included,
// being exactly as read. A refused prerequisite is a *dns.FenceMovedError.
func (p *Provider) ApplyFenced(ctx context.Context, zone string, f dns.ZoneFence, stamp dns.FenceStamp, creates, deletes []dns.Record) (dns.ZoneFence, error) {
	f.Name = p.FenceName(zone)
	stampRec := dns.Record{Name: f.Name, Type: "TXT", Content: stamp.Content(), TTL: defaultTTL}
	fc := append(slices.Clone(creates), stampRec)
	next := dns.ZoneFence{Name: f.Name, Genesis: f.Genesis}
	if f.Genesis.ID == "" {
		g := dns.Record{Name: f.Name, Type: "TXT", Content: dns.GenesisContent, TTL: defaultTTL}
		fc = append(fc, g)
		next.Genesis = record(mustRR(g))
	}
	fd := append(slices.Clone(deletes), f.Stamps...)
	u, err := p.newUpdate(zone, fc, fd)
	if err != nil {
		return f, err
	}
	err = p.send(ctx, zone, u, fmt.Sprintf("update %d creates, %d deletes and the fence %s", len(creates), len(deletes), f.Name))
	if err != nil {
		return f, err
	}
	p.commit(zone, u)
	next.Stamps = []dns.Record{record(mustRR(stampRec))}
	return next, nil
}

// mustRR is toRR of a record goavail made itself (a TXT record cannot fail).
func mustRR(r dns.Record) mdns.RR {
	rr, err := toRR(r)
	if err != nil {
		panic(err)
	}
	return rr
}
