package cfemu

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
)

// Entry is one answered request in the journal: who sent it, and for a
// write, every zone's records right after it was answered.
type Entry struct {
	Request
	From  netip.Addr          // the sender's source address
	Zones map[string][]Record // by zone name; writes only
}

// journal is the optional request journal; s.mu guards it.
type journal struct {
	on      bool
	entries []Entry
}

// StartJournal makes the emulator keep an Entry for every request from now
// on (the chaos suite attributes writes to agents by source address and
// checks each zone after every write).
func (s *Server) StartJournal() {
	s.mu.Lock()
	s.journal.on = true
	s.mu.Unlock()
}

// Journal returns the entries kept so far, in the order answered.
func (s *Server) Journal() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.journal.entries)
}

// noteLocked adds the request just answered to the journal; s.mu held.
func (s *Server) noteLocked(r *http.Request, req Request) {
	if !s.journal.on {
		return
	}
	e := Entry{Request: req}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		e.From, _ = netip.ParseAddr(host)
		e.From = e.From.Unmap()
	}
	if req.Write() {
		e.Zones = map[string][]Record{}
		for _, z := range s.zones {
			e.Zones[z.name] = sorted(z.records)
		}
	}
	s.journal.entries = append(s.journal.entries, e)
}
