package r53emu

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/goavail/goavail/internal/chaos"
)

// Entry is one request in the journal, in the shape of internal/cfemu's:
// who sent it, what it saw or did, and the zone's version around it. A
// zone's version counts the batches committed to it (and hand edits).
// Entries are kept in the order they took effect: a committed batch at its
// commit, anything else when answered.
type Entry struct {
	Request // At is the arrival; Status 0 when the answer was lost

	From  netip.Addr // the sender's source address
	Agent string     // the label of the access key it was signed with (AddKey)
	Zone  string     // the zone's name (no trailing dot), for a zone's request

	// ArrivalVersion is the zone's version when the request arrived,
	// before any hold in transit.
	ArrivalVersion uint64

	// A listing (GET rrset): the version it was served at (Version) and
	// the sets of this page (Listed). Page is 1 for a listing from the
	// zone's start (no name=), 2 for one from a name on (a later page, or
	// a read of one name such as the fence).
	List   bool
	Page   int
	Listed []RRSet

	// A batch that committed: when, the version it was applied on (Base)
	// and the one it made (Version = Base+1), the sets it deleted (as they
	// were) and the sets it created (an UPSERT is both).
	Committed bool
	CommitAt  time.Time
	Base      uint64
	Version   uint64
	Deleted   []RRSet
	Created   []RRSet

	Zones map[string][]RRSet // by zone name; writes only, right after the write
}

type journal struct {
	on      bool
	entries []Entry
}

// jreq is what a request carries for the journal while it is served.
type jreq struct {
	zone        *zone
	arrival     uint64
	listVersion uint64
	listed      []RRSet
	entry       int // 1 + the index of its entry once committed
}

// StartJournal makes the emulator keep an Entry for every request from now on.
func (s *Server) StartJournal() { s.mu.Lock(); s.journal.on = true; s.mu.Unlock() }

// Journal returns the entries kept so far, in the order they took effect.
func (s *Server) Journal() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.journal.entries)
}

// arrived notes the version of the zone a request is about, as it arrives.
func (s *Server) arrived(rp *reply) {
	path, ok := strings.CutPrefix(rp.r.URL.Path, apiPrefix+"hostedzone/")
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

func (s *Server) entryLocked(rp *reply, req Request) Entry {
	e := Entry{Request: req, ArrivalVersion: rp.jr.arrival, Agent: rp.agent}
	if host, _, err := net.SplitHostPort(rp.r.RemoteAddr); err == nil {
		e.From, _ = netip.ParseAddr(host)
		e.From = e.From.Unmap()
	}
	if rp.jr.zone != nil {
		e.Zone = strings.TrimSuffix(rp.jr.zone.name, ".")
	}
	return e
}

// committedLocked journals a batch as it commits on z; s.mu held.
func (s *Server) committedLocked(rp *reply, z *zone, deleted, created []RRSet, at time.Time) {
	if !s.journal.on {
		return
	}
	e := s.entryLocked(rp, Request{Method: rp.r.Method, Path: rp.r.URL.Path, Query: rp.r.URL.RawQuery, At: rp.at})
	e.Committed, e.CommitAt, e.Version, e.Base = true, at, z.version, z.version-1
	e.Deleted, e.Created = slices.Clone(deleted), slices.Clone(created)
	e.Zones = s.zonesLocked()
	s.journal.entries = append(s.journal.entries, e)
	rp.jr.entry = len(s.journal.entries)
}

func (s *Server) zonesLocked() map[string][]RRSet {
	out := map[string][]RRSet{}
	for _, z := range s.zones {
		out[strings.TrimSuffix(z.name, ".")] = z.sorted()
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
	if e.Zone != "" && req.Method == "GET" && rp.jr.listed != nil {
		e.List, e.Version, e.Listed, e.Page = true, rp.jr.listVersion, rp.jr.listed, 1
		if rp.r.URL.Query().Get("name") != "" {
			e.Page = 2
		}
	}
	s.journal.entries = append(s.journal.entries, e)
}

// Records flattens sets into the chaos checker's records: one per value,
// its id naming the set and the value (so the fence's stamps chain by id),
// its name without the trailing dot.
func Records(sets []RRSet) []chaos.Record {
	var out []chaos.Record
	for _, set := range sets {
		name := strings.TrimSuffix(set.Name, ".")
		ttl := 0
		if set.TTL != nil {
			ttl = int(*set.TTL)
		}
		for _, v := range set.Values {
			out = append(out, chaos.Record{ID: name + "|" + set.Type + "|" + set.SetIdentifier + "|" + v, Name: name, Type: set.Type, Content: strings.Trim(v, `"`), TTL: ttl})
		}
	}
	return out
}

// Ops turns the journal into what chaos.CheckJournal reads. A batch's
// records that are in both its deleted and its created sets (a set's
// values it kept) are neither deleted nor created.
func Ops(entries []Entry) []chaos.Op {
	var out []chaos.Op
	for _, e := range entries {
		if e.Zone == "" || !e.List && !e.Committed {
			continue
		}
		op := chaos.Op{Agent: e.Agent, Zone: e.Zone, At: e.At, List: e.List, Page: e.Page, Version: e.Version,
			Committed: e.Committed, CommitAt: e.CommitAt, Base: e.Base}
		if e.Committed {
			del, add := Records(e.Deleted), Records(e.Created)
			op.Deleted = slices.DeleteFunc(slices.Clone(del), func(r chaos.Record) bool { return hasID(add, r.ID) })
			op.Created = slices.DeleteFunc(add, func(r chaos.Record) bool { return hasID(del, r.ID) })
			op.After = Records(e.Zones[e.Zone])
		}
		out = append(out, op)
	}
	return out
}

func hasID(rs []chaos.Record, id string) bool {
	return slices.ContainsFunc(rs, func(r chaos.Record) bool { return r.ID == id })
}
