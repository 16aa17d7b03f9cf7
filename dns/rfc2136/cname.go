package rfc2136

import (
	"fmt"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/goavail/goavail/dns"
)

// A managed name that is a CNAME answers a query for its A records with
// the CNAME (and its target's records), and a server ignores an UPDATE
// that adds other data beside a CNAME (RFC 2136 §3.4.2.2), answering
// NOERROR: the write would seem made and be made again at every pass. So
// the provider notes the names it read as CNAMEs and refuses a creation
// there before sending, as a *dns.RejectedError: the core splits the batch
// down to that change and quarantines it, and the rest of the zone lands.

// noteCNAME remembers whether the managed name of k was read as a CNAME.
func (p *Provider) noteCNAME(zone string, k setKey, answer []mdns.RR) {
	if k.typ == mdns.TypeCNAME {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, rr := range answer {
		if c, ok := rr.(*mdns.CNAME); ok && strings.EqualFold(c.Hdr.Name, k.name) {
			if p.cname[zone] == nil {
				p.cname[zone] = map[string]string{}
			}
			p.cname[zone][k.name] = c.Target
			return
		}
	}
	delete(p.cname[zone], k.name)
}

// refuseAtCNAME refuses adds when one is at a name last read as a CNAME.
// p.mu is held.
func (p *Provider) refuseAtCNAME(zone string, adds []mdns.RR) error {
	for _, rr := range adds {
		name := rr.Header().Name
		if target, ok := p.cname[zone][name]; ok {
			msg := fmt.Sprintf("%s is a CNAME (to %s), and a server ignores other records added beside a CNAME; remove the CNAME, or the name from the group's hostnames", strings.TrimSuffix(name, "."), target)
			return &dns.RejectedError{Message: msg, Err: fmt.Errorf("create %s in zone %s: %s", strings.TrimPrefix(rr.String(), ";"), zone, msg)}
		}
	}
	return nil
}
