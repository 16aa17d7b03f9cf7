package rfc2136

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/goavail/goavail/dns"
)

// CheckZones asks the primary for each zone's SOA, signed with the TSIG
// key, so that a wrong key, a server that is not the zone's primary or a
// zone it does not serve shows at start rather than at the first
// transition. It returns every zone's error joined: a *dns.PermanentError
// naming the key and the server for a definite refusal (REFUSED, NOTAUTH,
// a TSIG error, an answer that is not authoritative or has no SOA for the
// zone), any other error when the server did not answer.
func (p *Provider) CheckZones(ctx context.Context, zones []string) error {
	var errs []error
	for _, z := range zones {
		if err := p.checkZone(ctx, z); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (p *Provider) checkZone(ctx context.Context, zone string) error {
	what := fmt.Sprintf("check zone %s on %s", zone, p.o.Server)
	apex := mdns.Fqdn(strings.ToLower(zone))
	q := new(mdns.Msg)
	q.SetQuestion(apex, mdns.TypeSOA)
	q.RecursionDesired = false
	q.SetTsig(p.o.KeyName, p.o.Algorithm, 300, time.Now().Unix())
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	start := time.Now()
	r, _, err := p.client.ExchangeContext(ctx, q, p.o.Server)
	p.observe("list", err, time.Since(start))
	if r != nil && r.Rcode != mdns.RcodeSuccess {
		var tsig string
		if t := r.IsTsig(); t != nil && t.Error != mdns.RcodeSuccess {
			tsig = ", TSIG " + mdns.RcodeToString[int(t.Error)]
		}
		switch r.Rcode {
		case mdns.RcodeNameError, mdns.RcodeNotAuth, mdns.RcodeRefused, mdns.RcodeNotZone:
			return &dns.PermanentError{Err: fmt.Errorf("%s: the server answered %s%s to TSIG key %s: check that it is the zone's primary, serves the zone, and knows the key (tsig_key_name, tsig_algorithm, the secret)",
				what, mdns.RcodeToString[r.Rcode], tsig, p.o.KeyName)}
		}
	}
	if err := classify(what, p.o.KeyName, r, err); err != nil {
		return err
	}
	if !r.Authoritative || !hasSOA(r.Answer, apex) {
		return &dns.PermanentError{Err: fmt.Errorf("%s: the server does not answer with the zone's SOA as its authority: set the RFC2136 server to the zone's primary", what)}
	}
	return nil
}

// hasSOA reports whether rrs hold the SOA of apex.
func hasSOA(rrs []mdns.RR, apex string) bool {
	for _, rr := range rrs {
		if h := rr.Header(); h.Rrtype == mdns.TypeSOA && strings.EqualFold(h.Name, apex) {
			return true
		}
	}
	return false
}
