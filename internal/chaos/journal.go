package chaos

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/goavail/goavail/dns"
)

// Op is one entry of the emulator's journal, as the journal-only checks
// read it: nothing in it comes from an agent's own account. The emulator
// names the sender by the token it carried, and the chaos run gives every
// run of every agent a token of its own (an incarnation), so a killed
// run's late write is told apart from the run that replaced it.
type Op struct {
	Agent string    // the run that sent it ("" for a hand edit through the API)
	Zone  string    // the zone's name
	At    time.Time // arrival at the emulator

	// A listing page: the zone version it was served at (Version), the
	// page asked for (1 for the first) and the type it lists ("" for all).
	List bool
	Page int
	Type string

	// A committed write: when it committed, the version it was applied on
	// (Base) and the version it made (Version), what it deleted by id and
	// what it created, and the zone right after.
	Committed bool
	CommitAt  time.Time
	Base      uint64
	Version   uint64
	Deleted   []Record
	Created   []Record
	After     []Record

	// RFC 2136 (FromUpdates): a listing's answer (Type is then the RRset,
	// "name TYPE"), and a commit's prerequisites as its UPDATE carried
	// them (checkPrereqs).
	Listed  []Record
	Prereqs []Prereq
}

// CheckJournal returns the violations that the emulator's journal alone
// shows (h.Journal; h.Initial, h.Hostnames, h.Addrs, h.Heals, h.Bound and
// the restore settings), in time order:
//
//	(f) no write commits on a zone that another writer changed after the
//	    listing the write was planned on: the write's plan is its run's
//	    latest listings (first pages, one per type) that arrived before the
//	    write did, and every commit between their version and the write's base
//	    must be the same run's, sent after that listing (the later batches
//	    of one pass); anything else is a late or stale write;
//	(g) with FenceName set, every committed write deletes the fence record
//	    by the id the previous committed write created and creates its
//	    successor: the fence's ids form one chain;
//	(h) a restored record (a managed record created after the same name,
//	    type and content was removed) has the ttl, proxied, comment and
//	    tags it had before its removal (the configured TTL, when set, wins;
//	    proxied is the configured value OR the remembered one);
//	(b) no managed hostname has zero managed records after any commit
//	    (fail-open);
//	(e) liveness: after a heal with Want set, the zone's managed records of
//	    every hostname are exactly Want within Bound (from the commits'
//	    times, not from polling).
func CheckJournal(h History) []Violation {
	var out []Violation
	out = append(out, checkStale(h)...)
	out = append(out, checkFailOpen(h)...)
	out = append(out, checkFenceChain(h)...)
	out = append(out, checkRestores(h)...)
	out = append(out, checkLiveness(h)...)
	slices.SortStableFunc(out, func(a, b Violation) int { return a.At.Compare(b.At) })
	return out
}

func checkStale(h History) []Violation {
	var out []Violation
	for _, w := range h.Journal {
		if !w.Committed || w.Agent == "" {
			continue
		}
		// The plan: the run's last listings before the write arrived, one
		// per type (an agent lists a zone one type at a time), back to the
		// first type that repeats. Listings are journaled when answered:
		// look at them all.
		var mine []*Op
		for j := range h.Journal {
			l := &h.Journal[j]
			if l.List && l.Page <= 1 && l.Agent == w.Agent && l.Zone == w.Zone && l.At.Before(w.At) {
				mine = append(mine, l)
			}
		}
		slices.SortStableFunc(mine, func(a, b *Op) int { return b.At.Compare(a.At) })
		var plan *Op
		seen := map[string]bool{}
		for _, l := range mine {
			if seen[l.Type] {
				break
			}
			seen[l.Type] = true
			if plan == nil || l.Version < plan.Version || l.Version == plan.Version && l.At.Before(plan.At) {
				plan = l
			}
		}
		if plan == nil {
			out = append(out, Violation{"f", w.CommitAt, fmt.Sprintf("a write from %s (arrived %s) was planned on no listing of its own", w.Agent, w.At.Format(tf))})
			continue
		}
		for _, c := range h.Journal {
			if !c.Committed || c.Zone != w.Zone || c.Version <= plan.Version || c.Version > w.Base {
				continue
			}
			if c.Agent == w.Agent && !c.At.Before(plan.At) {
				continue // an earlier batch of the same pass
			}
			who := c.Agent
			if who == "" {
				who = "a hand edit"
			}
			out = append(out, Violation{"f", w.CommitAt, fmt.Sprintf(
				"stale write: %s's write (arrived %s, committed %s on version %d, %s) was planned on its listing of version %d at %s, but %s committed version %d at %s (arrived %s) in between",
				w.Agent, w.At.Format(tf), w.CommitAt.Format(tf), w.Base, summary(w), plan.Version, plan.At.Format(tf), who, c.Version, c.CommitAt.Format(tf), c.At.Format(tf))})
			break
		}
	}
	return out
}

const tf = "15:04:05.000"

func summary(o Op) string {
	var parts []string
	for _, r := range o.Deleted {
		parts = append(parts, "-"+r.String())
	}
	for _, r := range o.Created {
		parts = append(parts, "+"+r.String())
	}
	return strings.Join(parts, ", ")
}

func checkFenceChain(h History) []Violation {
	if h.FenceName == "" {
		return nil
	}
	var out []Violation
	last := map[string]string{}  // zone: the fence id the next write must delete
	genesis := map[string]bool{} // zone: its genesis record exists
	isGenesis := func(r Record) bool { return r.Content == dns.GenesisContent || r.Content == `"`+dns.GenesisContent+`"` }
	for _, r := range h.Initial {
		if r.Name == h.FenceName && r.Type == "TXT" {
			if isGenesis(r) {
				genesis[""] = true
				continue
			}
			last[""] = r.ID
		}
	}
	for _, w := range h.Journal {
		if !w.Committed {
			continue
		}
		var del, add []Record
		had, ok := genesis[w.Zone]
		if !ok {
			had = genesis[""]
		}
		for _, r := range w.Deleted {
			if r.Name == h.FenceName && r.Type == "TXT" {
				if isGenesis(r) { // never deleted: it makes the first write a compare-and-swap
					out = append(out, Violation{"g", w.CommitAt, fmt.Sprintf("a write from %s deleted the fence's genesis record (%s)", w.Agent, summary(w))})
					continue
				}
				del = append(del, r)
			}
		}
		for _, r := range w.Created {
			if r.Name == h.FenceName && r.Type == "TXT" {
				if isGenesis(r) { // the zone's first write creates it, once
					if had {
						out = append(out, Violation{"g", w.CommitAt, fmt.Sprintf("a write from %s created a second genesis record: two first writes both landed (%s)", w.Agent, summary(w))})
					}
					had = true
					genesis[w.Zone] = true
					continue
				}
				add = append(add, r)
			}
		}
		want, ok := last[w.Zone]
		if !ok {
			want = last[""]
		}
		switch {
		case len(add) != 1:
			out = append(out, Violation{"g", w.CommitAt, fmt.Sprintf("a write from %s created %d fence records, want 1 (%s)", w.Agent, len(add), summary(w))})
		case want == "" && len(del) != 0, want != "" && (len(del) != 1 || del[0].ID != want):
			ids := make([]string, len(del))
			for i, r := range del {
				ids[i] = r.ID
			}
			out = append(out, Violation{"g", w.CommitAt, fmt.Sprintf("a write from %s deleted fence %v, not the chain's latest %q: the fence chain broke", w.Agent, ids, want)})
		}
		if len(add) > 0 {
			last[w.Zone] = add[len(add)-1].ID
		}
	}
	return out
}

func key(r Record) string { return r.Name + " " + r.Type + " " + r.Content }

func checkRestores(h History) []Violation {
	var out []Violation
	removed := map[string]Record{}
	for _, w := range h.Journal {
		if !w.Committed {
			continue
		}
		for _, r := range w.Deleted {
			if h.managed(r) {
				removed[key(r)] = r
			}
		}
		for _, r := range w.Created {
			old, ok := removed[key(r)]
			if !ok || !h.managed(r) {
				continue
			}
			want := old
			if h.TTL != 0 {
				want.TTL = h.TTL
			}
			want.Proxied = old.Proxied || h.Proxied
			if want.Proxied {
				want.TTL = 1 // a proxied record's ttl is automatic
			}
			if r.TTL != want.TTL || r.Proxied != want.Proxied || r.Comment != want.Comment || !sameTags(r.Tags, want.Tags) {
				out = append(out, Violation{"h", w.CommitAt, fmt.Sprintf("%s restored by %s as ttl=%d proxied=%t comment=%q tags=%v, want ttl=%d proxied=%t comment=%q tags=%v (as before its removal)",
					r, w.Agent, r.TTL, r.Proxied, r.Comment, r.Tags, want.TTL, want.Proxied, want.Comment, want.Tags)})
			}
		}
	}
	return out
}

func sameTags(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// matches reports whether every hostname's managed records in zone are
// exactly the addresses want.
func (h History) matches(zone []Record, want []string) bool {
	w := slices.Clone(want)
	slices.Sort(w)
	for _, n := range h.Hostnames {
		var got []string
		for _, r := range zone {
			if r.Name == n && h.managed(r) {
				got = append(got, r.Content)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, w) {
			return false
		}
	}
	return true
}

func checkLiveness(h History) []Violation {
	var out []Violation
	for _, hl := range h.Heals {
		if hl.Want == nil {
			continue
		}
		zone := h.Initial
		var at time.Time
		for _, w := range h.Journal {
			if !w.Committed {
				continue
			}
			if w.CommitAt.After(hl.At) {
				if h.matches(zone, hl.Want) {
					at = hl.At
					break
				}
				if w.CommitAt.After(hl.At.Add(h.Bound)) {
					break
				}
				if h.matches(w.After, hl.Want) {
					at = w.CommitAt
					break
				}
			}
			zone = w.After
		}
		if at.IsZero() && h.matches(zone, hl.Want) {
			at = hl.At // no commit after the heal, and none was needed
		}
		if at.IsZero() || at.Sub(hl.At) > h.Bound {
			out = append(out, Violation{"e", hl.At, fmt.Sprintf("liveness: after %s healed no write made the zone %v within %s (journal)", hl.Fault, hl.Want, h.Bound)})
		}
	}
	return out
}

func checkFailOpen(h History) []Violation {
	var out []Violation
	for _, w := range h.Journal {
		if !w.Committed {
			continue
		}
		for _, n := range h.Hostnames {
			if !slices.ContainsFunc(w.After, func(r Record) bool { return r.Name == n && h.managed(r) }) {
				out = append(out, Violation{"b", w.CommitAt, fmt.Sprintf("fail-open: %s has no managed record after a commit from %s (%s)", n, w.Agent, summary(w))})
			}
		}
	}
	return out
}
