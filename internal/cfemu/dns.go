package cfemu

import (
	"net"
	"strings"
	"time"

	"github.com/goavail/goavail/internal/emudns"

	mdns "github.com/miekg/dns"
)

// dnsServer answers DNS queries for the emulator's zones, over UDP and TCP
// on one port, as the zones' authoritative nameservers would: a change made
// through the API shows only after the propagation delay.
type dnsServer struct {
	*emudns.Server
	delay time.Duration
	// deleteDelay, when set (deleteSet), is how long a removal takes to
	// show, instead of delay.
	deleteDelay time.Duration
	deleteSet   bool
}

// serveDNS starts the DNS server on host.
func (s *Server) serveDNS(host string) error {
	srv, err := emudns.Serve(host, mdns.HandlerFunc(s.answerDNS))
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.dns = &dnsServer{Server: srv}
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

// DNSAddr is the host:port the emulator answers DNS on (UDP and TCP). The
// zones list it as their name_servers.
func (s *Server) DNSAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dns == nil {
		return ""
	}
	return s.dns.Addr
}

// SetPropagationDelay sets how long a change made through the API takes to
// show in DNS answers (0: at once).
func (s *Server) SetPropagationDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dns != nil {
		s.dns.delay = d
	}
}

// SetDeletePropagationDelay makes removals show in DNS answers after d
// instead of the propagation delay. Cloudflare propagates each record on
// its own: with d shorter than the propagation delay, a removal reaches
// the nameservers before a creation made with it or just before it, as it
// may in production.
func (s *Server) SetDeletePropagationDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dns != nil {
		s.dns.deleteDelay, s.dns.deleteSet = d, true
	}
}

func (s *Server) nameServersLocked() []string {
	if s.dns == nil {
		return []string{}
	}
	return []string{s.dns.Addr}
}

// answerDNS answers one query from the zones' records as they were one
// propagation delay ago.
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
	name := strings.ToLower(strings.TrimSuffix(qq.Name, "."))
	s.mu.Lock()
	var z *zone
	for _, c := range s.zones {
		if c.status == "active" && (name == c.name || strings.HasSuffix(name, "."+c.name)) && (z == nil || len(c.name) > len(z.name)) {
			z = c
		}
	}
	var recs []Record
	if z != nil {
		del := s.dns.delay
		if s.dns.deleteSet {
			del = s.dns.deleteDelay
		}
		recs = z.visible(time.Now(), s.dns.delay, del, name)
	}
	s.mu.Unlock()
	switch {
	case z == nil:
		m.Rcode = mdns.RcodeRefused
	case len(recs) == 0:
		m.Rcode = mdns.RcodeNameError
	}
	for _, r := range recs {
		hdr := mdns.RR_Header{Name: mdns.Fqdn(r.Name), Class: mdns.ClassINET, Ttl: uint32(r.TTL)}
		if r.TTL == 1 {
			hdr.Ttl = 300 // automatic
		}
		switch {
		case r.Type == "CNAME":
			hdr.Rrtype = mdns.TypeCNAME
			m.Answer = append(m.Answer, &mdns.CNAME{Hdr: hdr, Target: mdns.Fqdn(r.Content)})
		case r.Type == "A" && qq.Qtype == mdns.TypeA:
			hdr.Rrtype = mdns.TypeA
			m.Answer = append(m.Answer, &mdns.A{Hdr: hdr, A: net.ParseIP(r.Content).To4()})
		case r.Type == "AAAA" && qq.Qtype == mdns.TypeAAAA:
			hdr.Rrtype = mdns.TypeAAAA
			m.Answer = append(m.Answer, &mdns.AAAA{Hdr: hdr, AAAA: net.ParseIP(r.Content)})
		}
	}
	w.WriteMsg(m)
}

// visible returns the records of name that the nameservers serve at now:
// those created at least delay ago, and those deleted less than del ago.
// Called with the server lock held.
func (z *zone) visible(now time.Time, delay, del time.Duration, name string) []Record {
	cut, delCut := now.Add(-delay), now.Add(-del)
	var out []Record
	for id, r := range z.records {
		if r.Name == name && !z.shown[id].After(cut) {
			out = append(out, r)
		}
	}
	keep := z.gone[:0]
	for _, t := range z.gone {
		if t.deletedAt.After(delCut) {
			keep = append(keep, t)
			if t.rec.Name == name && !t.shownAt.After(cut) {
				out = append(out, t.rec)
			}
		}
	}
	z.gone = keep
	return out
}
