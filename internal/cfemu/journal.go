package cfemu

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Entry is one request in the journal: who sent it, what it saw or did,
// and the zone's version around it. A zone's version counts the changes
// committed to its records (API writes and hand edits alike), so two
// entries of one zone order by it whatever their times say.
//
// Entries are kept in the order they took effect: a committed write at its
// commit (under the lock that commits it), anything else when answered. A
// checker therefore needs no claim of the agents: a listing says which
// version it was served at, a write which version it was applied on.
type Entry struct {
	Request // At is the arrival; Status 0 when the answer was lost

	From netip.Addr // the sender's source address
	// Agent is the label of the token the request carried (AddToken), ""
	// for the emulator's own Token or key: the chaos suite gives every run
	// of an agent its own token, so a killed run's late write is told
	// apart from its successor's.
	Agent string
	Zone  string // the zone's name, for a dns_records request

	// ArrivalVersion is the zone's version when the request arrived,
	// before any hold in transit.
	ArrivalVersion uint64

	// A listing (GET dns_records): the version it was served at (Version)
	// and the records of this page (Listed). Page is the page asked for.
	List   bool
	Page   int
	Listed []Record

	// A write that committed: when (CommitAt), the version it was applied
	// on (Base) and the one it made (Version = Base+1), what it deleted by
	// id (each as it was), what it changed by id and what it created.
	Committed bool
	CommitAt  time.Time
	Base      uint64
	Version   uint64
	Deleted   []Record
	Created   []Record
	Changed   []Record // by a batch's patches and puts, as they became

	Zones map[string][]Record // by zone name; writes only, right after the write
}

// journal is the optional request journal; s.mu guards it.
type journal struct {
	on      bool
	entries []Entry
}

// jreq is what a request carries for the journal while it is served.
type jreq struct {
	zone        *zone
	arrival     uint64
	listVersion uint64
	listed      []Record
	entry       int // 1 + the index of its entry once committed, else 0
}

// StartJournal makes the emulator keep an Entry for every request from now
// on (the chaos suite attributes writes to agents by token and source
// address, and checks each zone after every write).
func (s *Server) StartJournal() {
	s.mu.Lock()
	s.journal.on = true
	s.mu.Unlock()
}

// Journal returns the entries kept so far, in the order they took effect.
func (s *Server) Journal() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.journal.entries)
}

// AddToken makes the emulator accept one more API token, and returns it;
// the journal names its requests' sender by label.
func (s *Server) AddToken(label string) string {
	tok := "test-token-" + newID()[:12]
	s.mu.Lock()
	s.tokens[tok] = label
	s.mu.Unlock()
	return tok
}

// labelLocked is the label of the token r carries ("" for none); s.mu held.
func (s *Server) labelLocked(r *http.Request) string {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return s.tokens[tok]
}

// arrived notes the version of the zone a request is about, as it arrives.
func (s *Server) arrived(rp *reply) {
	path, ok := strings.CutPrefix(rp.r.URL.Path, "/client/v4/zones/")
	if !ok {
		return
	}
	id, _, _ := strings.Cut(path, "/")
	s.mu.Lock()
	if z := s.zones[id]; z != nil {
		rp.jr.zone, rp.jr.arrival = z, z.version
	}
	s.mu.Unlock()
}

// entryLocked is the journal's entry for a request; s.mu held.
func (s *Server) entryLocked(rp *reply, req Request) Entry {
	e := Entry{Request: req, ArrivalVersion: rp.jr.arrival}
	if host, _, err := net.SplitHostPort(rp.r.RemoteAddr); err == nil {
		e.From, _ = netip.ParseAddr(host)
		e.From = e.From.Unmap()
	}
	e.Agent = s.labelLocked(rp.r)
	if rp.jr.zone != nil {
		e.Zone = rp.jr.zone.name
	}
	return e
}

// committedLocked journals a write as it commits on z (whose version it
// has just bumped); s.mu held.
func (s *Server) committedLocked(rp *reply, z *zone, deleted, created []Record) {
	if !s.journal.on {
		return
	}
	e := s.entryLocked(rp, Request{Method: rp.r.Method, Path: rp.r.URL.Path, Query: rp.r.URL.RawQuery, At: rp.at})
	e.Committed, e.CommitAt, e.Version, e.Base = true, time.Now(), z.version, z.version-1
	e.Deleted, e.Created = slices.Clone(deleted), slices.Clone(created)
	e.Zones = s.zonesLocked()
	s.journal.entries = append(s.journal.entries, e)
	rp.jr.entry = len(s.journal.entries)
}

func (s *Server) zonesLocked() map[string][]Record {
	out := map[string][]Record{}
	for _, z := range s.zones {
		out[z.name] = sorted(z.records)
	}
	return out
}

// noteLocked adds the request just answered to the journal, or gives its
// status to the entry its commit made; s.mu held.
func (s *Server) noteLocked(rp *reply, req Request) {
	if !s.journal.on {
		return
	}
	if rp.jr.entry > 0 {
		s.journal.entries[rp.jr.entry-1].Status = req.Status
		return
	}
	e := s.entryLocked(rp, req)
	if req.Write() {
		e.Zones = s.zonesLocked()
	}
	if e.Zone != "" && req.Method == http.MethodGet && rp.jr.listed != nil {
		e.List, e.Version, e.Listed, e.Page = true, rp.jr.listVersion, rp.jr.listed, 1
		if p := rp.r.URL.Query().Get("page"); p != "" {
			if n, err := strconv.ParseFloat(p, 64); err == nil {
				e.Page = int(n)
			}
		}
	}
	s.journal.entries = append(s.journal.entries, e)
}
