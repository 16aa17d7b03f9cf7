package chaos

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Record is one DNS record as the emulator held it.
type Record struct {
	ID, Name, Type, Content string
	TTL                     int
	Proxied                 bool
	Comment                 string
	Tags                    []string
}

func (r Record) String() string { return r.Name + " " + r.Type + " " + r.Content }

// Request is one API request, in arrival order.
type Request struct {
	At    time.Time
	Agent string // the sender, by its source address
	Write bool
	// Refused: the API refused the write whole (a moved zone fence, say),
	// so it changed nothing. The emulator's journal says so, not the agent.
	Refused bool
	// Zone is the zone's records after the request (writes only).
	Zone []Record
}

// Fence is an agent's log line saying it sent a DNS write under a writer
// lease that lasts until Until.
type Fence struct {
	Agent     string
	At, Until time.Time
}

// Sight is an agent's own probe state of an address changing.
type Sight struct {
	Agent string
	At    time.Time
	Addr  string
	Down  bool
}

// Heal is a fault's end and when the zone matched the truth again (zero:
// never within the run).
type Heal struct {
	Fault     string
	At        time.Time
	Converged time.Time
	// Want, when set, is the managed addresses every hostname must have
	// once the heal converged: CheckJournal's liveness check (e) reads the
	// commits, not Converged.
	Want []string
}

// History is everything a run recorded.
type History struct {
	Initial  []Record
	Requests []Request
	Fences   []Fence
	Sights   []Sight
	Heals    []Heal

	// Hostnames and Addrs are the managed names and addresses; a record is
	// managed when both its name and its content are.
	Hostnames, Addrs []string
	// Voters are the agents whose sights count for (d).
	Voters []string
	// Need is min_peers_agree + 1.
	Need int
	// Window is how long before a removal a voter's down sight counts for
	// (d): views stay fresh for view_stale_after, and the agreement holds
	// its state until a quorum changes it.
	Window time.Duration
	// Transit is how long after its lease's end a write may arrive (the
	// request was sent inside the lease; a loaded machine may take a while
	// to hand it to the emulator), provided no other agent's lease has
	// begun meanwhile.
	Transit time.Duration
	// Bound is the longest a heal may take to converge (e).
	Bound time.Duration

	// Journal is the emulator's journal, for CheckJournal (journal.go).
	Journal []Op
	// FenceName, when set, is the fence TXT record's name: every committed
	// write must carry the fence (g).
	FenceName string
	// TTL and Proxied are the configured ttl (0: unset) and proxied, for
	// the exact-restore check (h).
	TTL     int
	Proxied bool
}

// Violation is one broken invariant.
type Violation struct {
	Invariant string // "a" to "e"
	At        time.Time
	Detail    string
}

func (v Violation) String() string {
	return fmt.Sprintf("(%s) %s: %s", v.Invariant, v.At.Format("15:04:05.000"), v.Detail)
}

// Check returns every violation of the invariants, in time order:
//
//	(a) every write the API applied (a refused one changed nothing: that is
//	    what the zone fence is for) arrives within a writer lease its sender held (from a
//	    fence before it to the lease's end plus Transit), never while
//	    another agent's lease runs, and no two agents' leases overlap, so
//	    writers hand over and never overlap;
//	(b) no managed hostname ever has zero managed records;
//	(c) no unmanaged record is ever changed or removed;
//	(d) a managed record is removed only when Need voters saw its address
//	    down within Window before the removal;
//	(e) every heal converges within Bound.
func Check(h History) []Violation {
	var out []Violation
	out = append(out, checkWriters(h)...)
	out = append(out, checkZones(h)...)
	out = append(out, checkHeals(h)...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

func checkWriters(h History) []Violation {
	var out []Violation
	fences := slices.Clone(h.Fences)
	slices.SortFunc(fences, func(a, b Fence) int { return a.At.Compare(b.At) })
	for _, r := range h.Requests {
		if !r.Write || r.Refused {
			continue
		}
		ok := false
		for _, f := range fences {
			if f.Agent == r.Agent && !f.At.After(r.At) && !r.At.After(f.Until.Add(h.Transit)) {
				ok = true
				break
			}
		}
		if !ok {
			out = append(out, Violation{"a", r.At, fmt.Sprintf("a write from %s arrived outside any writer lease it held", r.Agent)})
		}
		for _, g := range fences {
			if g.Agent != r.Agent && !g.At.After(r.At) && !r.At.After(g.Until) {
				out = append(out, Violation{"a", r.At, fmt.Sprintf("a write from %s arrived while %s held the writer lease (%s to %s): two writers at the API",
					r.Agent, g.Agent, g.At.Format("15:04:05.000"), g.Until.Format("15:04:05.000"))})
				break
			}
		}
	}
	for i, f := range fences {
		for _, g := range fences[i+1:] {
			if g.At.After(f.Until) {
				break // sorted by start: no later fence overlaps f
			}
			if g.Agent != f.Agent {
				out = append(out, Violation{"a", g.At, fmt.Sprintf("%s wrote under a lease while %s's lease (until %s) still ran: two writers",
					g.Agent, f.Agent, f.Until.Format("15:04:05.000"))})
			}
		}
	}
	return out
}

// same reports whether two records are equal, tags and all.
func same(a, b Record) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Type == b.Type && a.Content == b.Content && a.TTL == b.TTL &&
		a.Proxied == b.Proxied && a.Comment == b.Comment && sameTags(a.Tags, b.Tags)
}

func (h History) managed(r Record) bool {
	return (r.Type == "A" || r.Type == "AAAA") && slices.Contains(h.Hostnames, r.Name) && slices.Contains(h.Addrs, r.Content)
}

func checkZones(h History) []Violation {
	var out []Violation
	unmanaged := map[string]Record{}
	for _, r := range h.Initial {
		if !h.managed(r) && (h.FenceName == "" || r.Name != h.FenceName) { // the fence is goavail's to replace
			unmanaged[r.ID] = r
		}
	}
	prev := h.Initial
	for _, req := range h.Requests {
		if !req.Write {
			continue
		}
		byID := map[string]Record{}
		names := map[string]int{}
		for _, r := range req.Zone {
			byID[r.ID] = r
			if h.managed(r) {
				names[r.Name]++
			}
		}
		for _, n := range h.Hostnames {
			if names[n] == 0 {
				out = append(out, Violation{"b", req.At, fmt.Sprintf("%s has no managed record (after a write from %s)", n, req.Agent)})
			}
		}
		for id, u := range unmanaged {
			if got, ok := byID[id]; !ok || !same(got, u) {
				out = append(out, Violation{"c", req.At, fmt.Sprintf("unmanaged record %s was changed or removed (after a write from %s)", u, req.Agent)})
				delete(unmanaged, id) // report once
			}
		}
		for _, r := range prev {
			if _, kept := byID[r.ID]; kept || !h.managed(r) {
				continue
			}
			if saw := h.sawDown(r.Content, req.At); len(saw) < h.Need {
				out = append(out, Violation{"d", req.At, fmt.Sprintf("%s removed by %s, but only %v saw %s down (need %d)", r, req.Agent, saw, r.Content, h.Need)})
			}
		}
		prev = req.Zone
	}
	return out
}

// sawDown lists the voters whose own state of addr was down at some moment
// of [at-Window, at].
func (h History) sawDown(addr string, at time.Time) []string {
	var out []string
	for _, agent := range h.Voters {
		down := false
		var since time.Time
		hit := false
		for _, s := range h.Sights {
			if s.Agent != agent || s.Addr != addr || s.At.After(at) {
				continue
			}
			if s.Down && !down {
				down, since = true, s.At
			} else if !s.Down && down {
				down = false
				if !s.At.Before(at.Add(-h.Window)) {
					hit = true // a down period that ended inside the window
				}
			}
		}
		if hit || (down && !since.After(at)) {
			out = append(out, agent)
		}
	}
	return out
}

func checkHeals(h History) []Violation {
	var out []Violation
	for _, hl := range h.Heals {
		switch {
		case hl.Converged.IsZero():
			out = append(out, Violation{"e", hl.At, fmt.Sprintf("after %s healed the zone never matched the truth", hl.Fault)})
		case hl.Converged.Sub(hl.At) > h.Bound:
			out = append(out, Violation{"e", hl.At, fmt.Sprintf("after %s healed the zone took %s to match the truth (bound %s)", hl.Fault, hl.Converged.Sub(hl.At).Round(time.Millisecond), h.Bound)})
		}
	}
	return out
}

// Report renders violations one per line.
func Report(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(v.String() + "\n")
	}
	return b.String()
}
