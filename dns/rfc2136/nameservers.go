package rfc2136

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// nsKeep is how long NameServers keeps a zone's nameservers before it
// asks the primary again (the propagation checker asks at every round).
const nsKeep = time.Minute

// nsLookup is a zone's nameservers as looked up at a time.
type nsLookup struct {
	servers []string
	at      time.Time
}

// NameServers is where the propagation check reads a change back: the
// primary first, then every address of the zone's NS set, so that a change
// counts as seen only once the secondaries serve it too (after the
// primary's NOTIFY and their transfer). The NS set and its targets'
// addresses come from the primary, signed (its glue, or its A and AAAA
// answers for targets inside the zone); a target outside the zone is
// resolved through the system's resolver. Each address is queried on
// Options.NameServerPort (53), except the primary's own address, which is
// the primary. The answer is kept for a minute.
func (p *Provider) NameServers(ctx context.Context, zone string) ([]string, error) {
	p.mu.Lock()
	l, ok := p.ns[zone]
	p.mu.Unlock()
	if ok && time.Since(l.at) < nsKeep {
		return slices.Clone(l.servers), nil
	}
	servers, err := p.lookupNameServers(ctx, zone)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.ns[zone] = nsLookup{servers: servers, at: time.Now()}
	p.mu.Unlock()
	return slices.Clone(servers), nil
}

func (p *Provider) lookupNameServers(ctx context.Context, zone string) ([]string, error) {
	what := fmt.Sprintf("look up the NS set of zone %s on %s", zone, p.o.Server)
	apex := mdns.Fqdn(strings.ToLower(zone))
	r, err := p.ask(ctx, what, apex, mdns.TypeNS)
	if err != nil {
		return nil, err
	}
	glue := map[string][]string{}
	for _, rr := range r.Extra {
		name := strings.ToLower(rr.Header().Name)
		switch v := rr.(type) {
		case *mdns.A:
			glue[name] = append(glue[name], v.A.String())
		case *mdns.AAAA:
			glue[name] = append(glue[name], v.AAAA.String())
		}
	}
	port := strconv.Itoa(p.o.NameServerPort)
	if p.o.NameServerPort == 0 {
		port = "53"
	}
	primary, _, _ := net.SplitHostPort(p.o.Server)
	pa, perr := netip.ParseAddr(primary)
	out := []string{p.o.Server}
	for _, rr := range r.Answer {
		ns, ok := rr.(*mdns.NS)
		if !ok || !strings.EqualFold(ns.Hdr.Name, apex) {
			continue
		}
		target := strings.ToLower(ns.Ns)
		addrs := glue[target]
		if len(addrs) == 0 {
			if addrs, err = p.addresses(ctx, zone, apex, target); err != nil {
				return nil, fmt.Errorf("%s: nameserver %s: %w", what, target, err)
			}
		}
		for _, a := range addrs {
			if ip, err := netip.ParseAddr(a); err == nil && perr == nil && ip.Unmap() == pa.Unmap() {
				continue // the primary itself
			}
			if s := net.JoinHostPort(a, port); !slices.Contains(out, s) && routable(s) {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// addresses are target's A and AAAA addresses: the primary's answers for
// a target inside the zone, else the system resolver's.
func (p *Provider) addresses(ctx context.Context, zone, apex, target string) ([]string, error) {
	if !mdns.IsSubDomain(apex, target) {
		ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
		defer cancel()
		addrs, err := net.DefaultResolver.LookupHost(ctx, strings.TrimSuffix(target, "."))
		if err != nil || len(addrs) == 0 {
			return nil, fmt.Errorf("resolve it (outside zone %s): %w", zone, err)
		}
		return addrs, nil
	}
	var out []string
	for _, t := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
		r, err := p.ask(ctx, fmt.Sprintf("look up %s %s on %s", target, mdns.TypeToString[t], p.o.Server), target, t)
		if err != nil {
			return nil, err
		}
		for _, rr := range r.Answer {
			switch v := rr.(type) {
			case *mdns.A:
				out = append(out, v.A.String())
			case *mdns.AAAA:
				out = append(out, v.AAAA.String())
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the primary has no A or AAAA record for it")
	}
	return out, nil
}

// ask sends one signed query to the primary; a NOERROR answer that is
// authoritative, or a classified error.
func (p *Provider) ask(ctx context.Context, what, name string, typ uint16) (*mdns.Msg, error) {
	q := new(mdns.Msg)
	q.SetQuestion(name, typ)
	q.RecursionDesired = false
	q.SetTsig(p.o.KeyName, p.o.Algorithm, 300, time.Now().Unix())
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	r, _, err := p.client.ExchangeContext(ctx, q, p.o.Server)
	if err := classify(what, p.o.KeyName, r, err); err != nil {
		return nil, err
	}
	if r.Rcode != mdns.RcodeSuccess || !r.Authoritative {
		return nil, fmt.Errorf("%s: the primary gave no authoritative answer (%s)", what, mdns.RcodeToString[r.Rcode])
	}
	return r, nil
}

// routable reports whether this host has a route to hostport: a UDP
// "connect" looks the route up and sends nothing. An AAAA glue address on
// a host without IPv6 (or an address behind an unreachable route) is left
// out of the propagation check, which could never reach it and would
// report every change late.
func routable(hostport string) bool {
	c, err := net.Dial("udp", hostport)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
