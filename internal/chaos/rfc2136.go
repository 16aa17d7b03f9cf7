package chaos

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Prereq is one prerequisite of an RFC 2136 UPDATE on an RRset: the set
// exists with exactly Records (value dependent, RFC 2136 §2.4.2) or, with
// Exists false, it does not exist (§2.4.3).
type Prereq struct {
	Name, Type string
	Exists     bool
	Records    []Record
}

func (p Prereq) String() string {
	if !p.Exists {
		return p.Name + " " + p.Type + " does not exist"
	}
	return p.Name + " " + p.Type + " is " + contents(p.Records)
}

// DNSExchange is one request that the recording proxy in front of named
// passed, as the proxy saw it (not the agent's account): who sent it (the
// proxy's listener, one per agent run), when it arrived and when named
// answered, and what named answered.
type DNSExchange struct {
	Agent        string
	At, Answered time.Time // Answered zero: no answer
	Rcode        string    // "NOERROR", "NXRRSET", …; "" when no answer
	Update       bool

	// A query: the RRset asked for, the answer's records of it, and the
	// zone's serial read just before and just after (the answer was served
	// at a version in between).
	Name, Type                string
	Answer                    []Record
	SerialBefore, SerialAfter uint64

	// An UPDATE: its prerequisites and its changes.
	Prereqs        []Prereq
	Deleted, Added []Record
}

// Txn is one transaction of named's zone journal: a committed update
// from SOA serial From to To, with what it deleted and added (no SOA).
type Txn struct {
	From, To       uint64
	Deleted, Added []Record
}

// FromUpdates builds the journal-only history of zone, written through
// RFC 2136, from named's journal (txns, the server's commit record) and
// the proxy's exchanges (the attribution): each transaction becomes a
// committed Op of the NOERROR UPDATE that carries its changes (Base and
// Version its serials, After the zone replayed from initial), each query
// answer a listing Op of its RRset at the version the answer matches
// within its serial bracket. It also returns every UPDATE as a Request
// for Check (Refused when no transaction is its), and a violation (f) for
// each transaction no UPDATE through the proxy accounts for: the agents
// reach named only through it.
func FromUpdates(zone string, initial []Record, ex []DNSExchange, txns []Txn) ([]Op, []Request, []Violation) {
	var ops []Op
	var reqs []Request
	var out []Violation
	state := map[string]Record{}
	for _, r := range initial {
		state[key(r)] = r
	}
	states := map[uint64][]Record{}
	first := uint64(0)
	if len(txns) > 0 {
		first = txns[0].From
		states[first] = snapshot(state)
	}
	var updates []int
	for i, e := range ex {
		if e.Update && e.Rcode == "NOERROR" {
			updates = append(updates, i)
		}
	}
	slices.SortStableFunc(updates, func(a, b int) int { return ex[a].Answered.Compare(ex[b].Answered) })
	matched := map[int]int{} // exchange: 1 + the index of its commit in ops
	var lastCommit time.Time
	for _, t := range txns {
		for _, r := range t.Deleted {
			delete(state, key(r))
		}
		for _, r := range t.Added {
			state[key(r)] = r
		}
		after := snapshot(state)
		states[t.To] = after
		op := Op{Zone: zone, Committed: true, Base: t.From, Version: t.To, Deleted: t.Deleted, Created: t.Added, After: after, CommitAt: lastCommit, At: lastCommit}
		for _, i := range updates {
			if matched[i] == 0 && covers(ex[i].Added, t.Added) && covers(ex[i].Deleted, t.Deleted) {
				matched[i] = len(ops) + 1
				e := ex[i]
				op.Agent, op.At, op.CommitAt, op.Prereqs = e.Agent, e.At, e.Answered, e.Prereqs
				if op.Prereqs == nil {
					op.Prereqs = []Prereq{}
				}
				break
			}
		}
		if op.Agent == "" {
			out = append(out, Violation{"f", lastCommit, fmt.Sprintf("named committed serial %d to %d (%s), which no UPDATE through the proxy accounts for", t.From, t.To, summary(op))})
		}
		lastCommit = op.CommitAt
		ops = append(ops, op)
	}
	stateAt := func(v uint64) ([]Record, bool) {
		if s, ok := states[v]; ok {
			return s, true
		}
		if len(txns) == 0 || v <= first {
			return initial, len(txns) == 0 || v == first
		}
		return nil, false
	}
	for _, e := range ex {
		if e.Update || e.Agent == "" || (e.Rcode != "NOERROR" && e.Rcode != "NXDOMAIN") {
			continue
		}
		set := Prereq{Name: e.Name, Type: e.Type}
		v := e.SerialAfter
		for s := e.SerialAfter; s >= e.SerialBefore && s > 0; s-- {
			if z, ok := stateAt(s); ok && contents(rrset(z, set)) == contents(e.Answer) {
				v = s // the latest version the answer matches
				break
			}
		}
		ops = append(ops, Op{Agent: e.Agent, Zone: zone, At: e.At, List: true, Page: 1, Type: e.Name + " " + e.Type, Version: v, Listed: e.Answer})
	}
	// The writes, in the order they took effect: a commit at its answer,
	// a refused write when refused; each with the zone right after.
	type w struct {
		at  time.Time
		req Request
		op  *Op
	}
	var ws []w
	for i, e := range ex {
		if !e.Update {
			continue
		}
		r := Request{At: e.At, Agent: e.Agent, Write: true, Refused: matched[i] == 0}
		at := e.Answered
		if at.IsZero() {
			at = e.At
		}
		var op *Op
		if j := matched[i]; j > 0 {
			op = &ops[j-1]
		}
		ws = append(ws, w{at, r, op})
	}
	slices.SortStableFunc(ws, func(a, b w) int { return a.at.Compare(b.at) })
	zoneNow := initial
	for _, x := range ws {
		if x.op != nil {
			zoneNow = x.op.After
		}
		x.req.Zone = zoneNow
		reqs = append(reqs, x.req)
	}
	return ops, reqs, out
}

// covers reports whether every record of sub is in set (by name, type and
// content).
func covers(set, sub []Record) bool {
	for _, r := range sub {
		if !slices.ContainsFunc(set, func(x Record) bool { return key(x) == key(r) }) {
			return false
		}
	}
	return true
}

func snapshot(state map[string]Record) []Record {
	out := make([]Record, 0, len(state))
	for _, r := range state {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Record) int { return strings.Compare(key(a), key(b)) })
	return out
}

// rrset is the records of zone in p's RRset.
func rrset(zone []Record, p Prereq) []Record {
	var out []Record
	for _, r := range zone {
		if strings.EqualFold(r.Name, p.Name) && strings.EqualFold(r.Type, p.Type) {
			out = append(out, r)
		}
	}
	return out
}

// contents is a set's data, sorted: what a value-dependent prerequisite
// compares (TTLs aside).
func contents(rs []Record) string {
	var cs []string
	for _, r := range rs {
		cs = append(cs, r.Content)
	}
	slices.Sort(cs)
	return "[" + strings.Join(cs, " ") + "]"
}

// CheckUpdateJournal is CheckJournal for a zone written through RFC 2136
// (h.Journal from FromUpdates): (f) no stale write, (b) fail-open, (g) the
// fence chain (record ids are name/type/content, a stamp being unique) and
// (e) liveness carry over as they are; and (f) again on the UPDATEs'
// prerequisites (checkPrereqs). (h) does not apply and is skipped: it
// compares the comments, tags and proxied flag a removal remembers, which
// DNS records do not have (and record ids, which a DNS server does not
// give).
func CheckUpdateJournal(h History) []Violation {
	var out []Violation
	out = append(out, checkStale(h)...)
	out = append(out, checkFailOpen(h)...)
	out = append(out, checkFenceChain(h)...)
	out = append(out, checkLiveness(h)...)
	out = append(out, checkPrereqs(h)...)
	slices.SortStableFunc(out, func(a, b Violation) int { return a.At.Compare(b.At) })
	return out
}

// checkPrereqs: (f) every committed UPDATE carries a prerequisite on every
// RRset it changes and on the fence's TXT RRset (h.FenceName), each equal
// to what its run last knew of that RRset before it sent the UPDATE (its
// latest listing of it, or its own latest commit after that listing); and
// named committed it on a zone where those prerequisites held.
func checkPrereqs(h History) []Violation {
	var out []Violation
	zone := h.Initial
	for _, w := range h.Journal {
		if !w.Committed || w.Agent == "" {
			continue
		}
		base := zone
		zone = w.After
		sets := map[string]Prereq{}
		for _, r := range append(slices.Clone(w.Deleted), w.Created...) {
			sets[strings.ToLower(r.Name+" "+r.Type)] = Prereq{Name: r.Name, Type: r.Type}
		}
		if h.FenceName != "" {
			sets[strings.ToLower(h.FenceName+" TXT")] = Prereq{Name: h.FenceName, Type: "TXT"}
		}
		ks := make([]string, 0, len(sets))
		for k := range sets {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		for _, k := range ks {
			set := sets[k]
			i := slices.IndexFunc(w.Prereqs, func(p Prereq) bool {
				return strings.EqualFold(p.Name, set.Name) && strings.EqualFold(p.Type, set.Type)
			})
			if i < 0 {
				out = append(out, Violation{"f", w.CommitAt, fmt.Sprintf("unconditional write: %s's UPDATE (arrived %s, serial %d to %d, %s) has no prerequisite on %s %s",
					w.Agent, w.At.Format(tf), w.Base, w.Version, summary(w), set.Name, set.Type)})
				continue
			}
			p := w.Prereqs[i]
			var want []Record
			if p.Exists {
				want = p.Records
			}
			if got := rrset(base, set); contents(got) != contents(want) {
				out = append(out, Violation{"f", w.CommitAt, fmt.Sprintf("named committed %s's UPDATE on serial %d although its prerequisite %s did not hold (it was %s)",
					w.Agent, w.Base, p, contents(got))})
			}
			known, ok := h.lastKnown(w, set)
			if !ok {
				out = append(out, Violation{"f", w.CommitAt, fmt.Sprintf("%s's UPDATE (arrived %s) has a prerequisite on %s %s that it never read", w.Agent, w.At.Format(tf), set.Name, set.Type)})
			} else if contents(known) != contents(want) {
				out = append(out, Violation{"f", w.CommitAt, fmt.Sprintf("%s's UPDATE (arrived %s) required %s, but it last read %s there", w.Agent, w.At.Format(tf), p, contents(known))})
			}
		}
	}
	return out
}

// lastKnown is what w's run last knew of set before it sent w: its latest
// listing of the set, or the set after its own latest commit if that came
// later.
func (h History) lastKnown(w Op, set Prereq) ([]Record, bool) {
	var at time.Time
	var known []Record
	ok := false
	typ := set.Name + " " + set.Type
	for _, o := range h.Journal {
		if o.Agent != w.Agent || o.Zone != w.Zone {
			continue
		}
		switch {
		case o.List && strings.EqualFold(o.Type, typ) && o.At.Before(w.At) && !o.At.Before(at):
			at, known, ok = o.At, rrset(o.Listed, set), true
		case o.Committed && o.CommitAt.Before(w.At) && !o.CommitAt.Before(at):
			at, known, ok = o.CommitAt, rrset(o.After, set), true
		}
	}
	return known, ok
}
