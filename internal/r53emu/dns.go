package r53emu

import (
	"strconv"
	"strings"
	"time"

	"github.com/goavail/goavail/internal/emudns"

	mdns "github.com/miekg/dns"
)

// dnsServer answers DNS queries for the emulator's zones, over UDP and TCP
// on one port, as the zones' nameservers would: a change shows once the
// propagation delay has passed (when GetChange says INSYNC).
type dnsServer struct{ *emudns.Server }

func (s *Server) serveDNS(host string) error {
	srv, err := emudns.Serve(host, mdns.HandlerFunc(s.answerDNS))
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.dns = &dnsServer{srv}
	s.mu.Unlock()
	return nil
}

func (s *Server) closeDNS() {
	s.mu.Lock()
	d := s.dns
	s.mu.Unlock()
	if d != nil {
		d.Close()
	}
}

// DNSAddr is the host:port the emulator answers DNS on (UDP and TCP);
// GetHostedZone's delegation set names it.
func (s *Server) DNSAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dns.Addr
}

func (s *Server) nameServersLocked() []string {
	if s.dns == nil {
		return []string{}
	}
	return []string{s.dns.Addr}
}

// answerDNS answers one query from the zones' sets as they were one
// propagation delay ago: every value of every set of the name and type
// (all the weighted sets together, as a resolver would see over time).
func (s *Server) answerDNS(w mdns.ResponseWriter, q *mdns.Msg) {
	m := new(mdns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	if len(q.Question) != 1 {
		m.Rcode = mdns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	qq := q.Question[0]
	name := CanonicalName(qq.Name)
	typ := mdns.TypeToString[qq.Qtype]
	s.mu.Lock()
	var z *zone
	for _, c := range s.zones {
		if (name == c.name || strings.HasSuffix(name, "."+c.name)) && (z == nil || len(c.name) > len(z.name)) {
			z = c
		}
	}
	var sets []RRSet
	if z != nil {
		sets = z.visible(time.Now().Add(-s.delay), name, typ)
	}
	s.mu.Unlock()
	if z == nil {
		m.Rcode = mdns.RcodeRefused
	}
	for _, set := range sets {
		ttl := uint32(300)
		if set.TTL != nil {
			ttl = uint32(*set.TTL)
		}
		for _, v := range set.Values {
			rr, err := mdns.NewRR(qq.Name + " " + strconv.Itoa(int(ttl)) + " IN " + set.Type + " " + v)
			if err == nil && rr != nil {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	w.WriteMsg(m)
}

// visible is the sets of name and type the nameservers serve when changes
// up to cut have propagated: those changed by cut, and those deleted after
// cut that had propagated before. s.mu held.
func (z *zone) visible(cut time.Time, name, typ string) []RRSet {
	var out []RRSet
	for _, h := range z.sets {
		if h.set.Name == name && h.set.Type == typ && !h.changed.After(cut) {
			out = append(out, h.set)
		}
	}
	keep := z.gone[:0]
	for _, t := range z.gone {
		if t.deleted.After(cut) {
			keep = append(keep, t)
			if t.set.Name == name && t.set.Type == typ && !t.changed.After(cut) {
				out = append(out, t.set)
			}
		}
	}
	z.gone = keep
	return out
}
