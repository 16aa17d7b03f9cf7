package rfc2136

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	mdns "github.com/miekg/dns"
)

// A managed name that only a wildcard covers (*.example.com) gets
// synthesized records from a query (RFC 4592), yet it has no RRset of its
// own, and an UPDATE's prerequisites see only real RRsets (RFC 2136
// §3.2.5): a write conditional on the synthesized records as read would be
// refused with NXRRSET at every pass. The answer itself cannot tell the
// two apart without DNSSEC, so after a write refused with NXRRSET the
// provider asks the primary which of the RRsets that write named exist:
// an UPDATE with only "RRset exists (value independent)" prerequisites
// (RFC 2136 §2.4.1) and no changes, answered NOERROR when they all exist
// and NXRRSET when one does not. An RRset found synthesized is, from then
// on, read as empty ("RRset does not exist" in the next write); each later
// listing that reads records there asks again, so a real RRset added by
// hand is seen as soon as it exists.

// learnSynthesized finds which of the RRsets keys, read with records,
// have no RRset of their own at the primary, and remembers them as
// synthesized (and the others as real). It is called after a write was
// refused with NXRRSET; an error leaves what is remembered as it was.
func (p *Provider) learnSynthesized(ctx context.Context, zone string, keys []setKey) error {
	real, err := p.exist(ctx, zone, keys)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.wild[zone]
	if w == nil {
		w = map[setKey]bool{}
		p.wild[zone] = w
	}
	for _, k := range keys {
		if real[k] {
			delete(w, k)
		} else {
			w[k] = true
		}
	}
	return nil
}

// dropSynthesized empties, in sets just read, the RRsets of zone known to
// be synthesized that still read with records, after asking the primary
// again whether each now exists of its own.
func (p *Provider) dropSynthesized(ctx context.Context, zone string, sets map[setKey][]mdns.RR) error {
	p.mu.Lock()
	var ask []setKey
	for k := range p.wild[zone] {
		if len(sets[k]) > 0 {
			ask = append(ask, k)
		}
	}
	p.mu.Unlock()
	if len(ask) == 0 {
		return nil
	}
	slices.SortFunc(ask, func(a, b setKey) int {
		if a.name != b.name {
			return cmp.Compare(a.name, b.name)
		}
		return int(a.typ) - int(b.typ)
	})
	real, err := p.exist(ctx, zone, ask)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range ask {
		if real[k] {
			delete(p.wild[zone], k)
			continue
		}
		sets[k] = []mdns.RR{}
	}
	return nil
}

// exist says which of keys are RRsets of their own in zone at the primary:
// one UPDATE naming them all with "RRset exists (value independent)"
// prerequisites and no changes; on NXRRSET the keys are halved and asked
// again, down to the ones that do not exist.
func (p *Provider) exist(ctx context.Context, zone string, keys []setKey) (map[setKey]bool, error) {
	out := map[setKey]bool{}
	var walk func(ks []setKey) error
	walk = func(ks []setKey) error {
		ok, err := p.allExist(ctx, zone, ks)
		if err != nil {
			return err
		}
		if ok {
			for _, k := range ks {
				out[k] = true
			}
			return nil
		}
		if len(ks) == 1 {
			return nil
		}
		if err := walk(ks[:len(ks)/2]); err != nil {
			return err
		}
		return walk(ks[len(ks)/2:])
	}
	if err := walk(slices.Clone(keys)); err != nil {
		return nil, err
	}
	return out, nil
}

// allExist sends one prerequisite-only UPDATE: true on NOERROR, false on
// NXRRSET, an error (classified) otherwise.
func (p *Provider) allExist(ctx context.Context, zone string, keys []setKey) (bool, error) {
	what := fmt.Sprintf("ask zone %s on %s which of %d RRsets exist of their own (wildcard check)", zone, p.o.Server, len(keys))
	m := new(mdns.Msg)
	m.SetUpdate(mdns.Fqdn(zone))
	pre := make([]mdns.RR, 0, len(keys))
	for _, k := range keys {
		pre = append(pre, &mdns.ANY{Hdr: mdns.RR_Header{Name: k.name, Rrtype: k.typ, Class: mdns.ClassINET}})
	}
	m.RRsetUsed(pre)
	m.SetTsig(p.o.KeyName, p.o.Algorithm, 300, time.Now().Unix())
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	start := time.Now()
	r, _, err := p.client.ExchangeContext(ctx, m, p.o.Server)
	if err == nil && r != nil && r.Rcode == mdns.RcodeNXRrset {
		p.observe("list", nil, time.Since(start))
		return false, nil
	}
	err = classify(what, p.o.KeyName, r, err)
	p.observe("list", err, time.Since(start))
	return err == nil, err
}

// synthesized is the RRsets of zone known to be synthesized (for tests).
func (p *Provider) synthesized(zone string) []setKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Collect(maps.Keys(p.wild[zone]))
}
