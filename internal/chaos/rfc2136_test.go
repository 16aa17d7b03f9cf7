package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
)

func rec(name, typ, content string) Record {
	return Record{ID: name + "/" + typ + "/" + content, Name: name, Type: typ, Content: content, TTL: 60}
}

const (
	www   = "www.example.com"
	fence = "_goavail.example.com"
)

func a(ip string) Record    { return rec(www, "A", ip) }
func stamp(s string) Record { return rec(fence, "TXT", s) }
func genesis() Record       { return rec(fence, "TXT", dns.GenesisContent) }
func is(n, t string, rs ...Record) Prereq {
	return Prereq{Name: n, Type: t, Exists: len(rs) > 0, Records: rs}
}

// updateScript is a scripted run through the proxy: t0 is when it starts.
type updateScript struct {
	t0  time.Time
	ex  []DNSExchange
	txn []Txn
}

func (s *updateScript) at(ms int) time.Time { return s.t0.Add(time.Duration(ms) * time.Millisecond) }

func (s *updateScript) list(agent string, ms int, name, typ string, before, after uint64, answer ...Record) {
	s.ex = append(s.ex, DNSExchange{Agent: agent, At: s.at(ms), Answered: s.at(ms + 1), Rcode: "NOERROR", Name: name, Type: typ,
		Answer: answer, SerialBefore: before, SerialAfter: after})
}

func (s *updateScript) update(agent string, ms int, rcode string, pre []Prereq, del, add []Record) {
	s.ex = append(s.ex, DNSExchange{Agent: agent, At: s.at(ms), Answered: s.at(ms + 5), Rcode: rcode, Update: true, Prereqs: pre, Deleted: del, Added: add})
}

func (s *updateScript) history() (History, []Violation) {
	initial := []Record{a("192.0.2.1"), a("192.0.2.2"), a("192.0.2.3"), rec(www, "TXT", "v=spf1 -all")}
	ops, reqs, vs := FromUpdates("example.com", initial, s.ex, s.txn)
	return History{Initial: initial, Journal: ops, Requests: reqs, Hostnames: []string{www}, FenceName: fence,
		Addrs: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}, Bound: 10 * time.Second}, vs
}

// clean is two runs writing in turn, each on what it listed: r1 removes
// 192.0.2.1 (the zone's first write: it creates the genesis), r2 (after
// a hand-over) brings it back, replacing r1's stamp.
func clean(t0 time.Time) *updateScript {
	s := &updateScript{t0: t0}
	s.list("r1", 0, fence, "TXT", 1, 1)
	s.list("r1", 10, www, "A", 1, 1, a("192.0.2.1"), a("192.0.2.2"), a("192.0.2.3"))
	s.update("r1", 20, "NOERROR", []Prereq{is(fence, "TXT"), is(www, "A", a("192.0.2.1"), a("192.0.2.2"), a("192.0.2.3"))},
		[]Record{a("192.0.2.1")}, []Record{stamp("s1"), genesis()})
	s.txn = append(s.txn, Txn{From: 1, To: 2, Deleted: []Record{a("192.0.2.1")}, Added: []Record{stamp("s1"), genesis()}})
	s.list("r2", 100, fence, "TXT", 1, 2, genesis(), stamp("s1")) // the bracket spans r1's commit: the content says serial 2
	s.list("r2", 110, www, "A", 2, 2, a("192.0.2.2"), a("192.0.2.3"))
	s.update("r2", 120, "NOERROR", []Prereq{is(fence, "TXT", genesis(), stamp("s1")), is(www, "A", a("192.0.2.2"), a("192.0.2.3"))},
		[]Record{stamp("s1")}, []Record{a("192.0.2.1"), stamp("s2")})
	s.txn = append(s.txn, Txn{From: 2, To: 3, Deleted: []Record{stamp("s1")}, Added: []Record{a("192.0.2.1"), stamp("s2")}})
	return s
}

// TestFromUpdates_Clean: the journal's two transactions become r1's and
// r2's commits (serials as versions, the zone replayed after each), the
// query answers listings at the versions their content matches, and the
// journal-only checks find nothing.
func TestFromUpdates_Clean(t *testing.T) {
	s := clean(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	h, vs := s.history()
	if len(vs) != 0 {
		t.Fatalf("conversion violations: %s", Report(vs))
	}
	var commits, lists []Op
	for _, o := range h.Journal {
		if o.Committed {
			commits = append(commits, o)
		} else {
			lists = append(lists, o)
		}
	}
	if len(commits) != 2 || commits[0].Agent != "r1" || commits[1].Agent != "r2" || commits[0].Base != 1 || commits[0].Version != 2 || commits[1].Base != 2 || commits[1].Version != 3 {
		t.Fatalf("commits = %+v", commits)
	}
	if got := contents(rrset(commits[1].After, is(www, "A"))); got != "[192.0.2.1 192.0.2.2 192.0.2.3]" {
		t.Errorf("www A after r2's commit = %s", got)
	}
	if got := contents(rrset(commits[1].After, is(fence, "TXT"))); got != "["+dns.GenesisContent+" s2]" {
		t.Errorf("fence after r2's commit = %s", got)
	}
	if len(lists) != 4 || lists[2].Version != 2 || lists[2].Type != fence+" TXT" || lists[0].Version != 1 {
		t.Errorf("listings = %+v", lists)
	}
	if len(h.Requests) != 2 || h.Requests[0].Refused || h.Requests[1].Refused {
		t.Errorf("requests = %+v", h.Requests)
	}
	if vs := CheckUpdateJournal(h); len(vs) != 0 {
		t.Errorf("clean history: %s", Report(vs))
	}
}

// TestCheckUpdateJournal_Violations: each history breaks the clean one in
// one way, and the check must say so.
func TestCheckUpdateJournal_Violations(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		edit func(s *updateScript)
		want []string // in the report, each
	}{
		{"unconditional stale write", func(s *updateScript) {
			// r1, planned on its listings at serial 1, sends an UPDATE with
			// no prerequisites after r2 committed: named applies it.
			s.update("r1", 200, "NOERROR", nil, []Record{a("192.0.2.2"), stamp("s2")}, []Record{stamp("s3")})
			s.txn = append(s.txn, Txn{From: 3, To: 4, Deleted: []Record{a("192.0.2.2"), stamp("s2")}, Added: []Record{stamp("s3")}})
		}, []string{"unconditional write: r1's UPDATE", "has no prerequisite on www.example.com A", "stale write: r1's write", "r2 committed version 3"}},
		{"prerequisite not what it read", func(s *updateScript) {
			// r1 requires the zone as it is now (so named applies it), not
			// as it last read it: it planned on a state it never saw.
			s.update("r1", 200, "NOERROR", []Prereq{is(fence, "TXT", genesis(), stamp("s2")), is(www, "A", a("192.0.2.1"), a("192.0.2.2"), a("192.0.2.3"))},
				[]Record{a("192.0.2.3"), stamp("s2")}, []Record{stamp("s3")})
			s.txn = append(s.txn, Txn{From: 3, To: 4, Deleted: []Record{a("192.0.2.3"), stamp("s2")}, Added: []Record{stamp("s3")}})
		}, []string{"required _goavail.example.com TXT is [" + dns.GenesisContent + " s2], but it last read [" + dns.GenesisContent + " s1]", "stale write"}},
		{"named ignores a failed prerequisite", func(s *updateScript) {
			s.update("r1", 200, "NOERROR", []Prereq{is(fence, "TXT", genesis(), stamp("s1")), is(www, "A", a("192.0.2.2"), a("192.0.2.3"))},
				[]Record{stamp("s1")}, []Record{stamp("s3")})
			s.txn = append(s.txn, Txn{From: 3, To: 4, Deleted: []Record{stamp("s1")}, Added: []Record{stamp("s3")}})
		}, []string{"although its prerequisite _goavail.example.com TXT is [" + dns.GenesisContent + " s1] did not hold"}},
		{"a commit no UPDATE accounts for", func(s *updateScript) {
			s.txn = append(s.txn, Txn{From: 3, To: 4, Deleted: []Record{a("192.0.2.1"), a("192.0.2.2"), a("192.0.2.3")}, Added: []Record{}})
		}, []string{"which no UPDATE through the proxy accounts for", "fail-open: www.example.com has no managed record"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := clean(t0)
			tc.edit(s)
			h, vs := s.history()
			vs = append(vs, CheckUpdateJournal(h)...)
			rep := Report(vs)
			for _, w := range tc.want {
				if !strings.Contains(rep, w) {
					t.Errorf("report lacks %q:\n%s", w, rep)
				}
			}
		})
	}
}

// TestFromUpdates_RefusedIsNoWrite: an UPDATE that named refused (its
// prerequisite failed: NXRRSET) has no transaction; it is a refused
// request, and nothing about it is a violation.
func TestFromUpdates_RefusedIsNoWrite(t *testing.T) {
	s := clean(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	s.update("r1", 200, "NXRRSET", []Prereq{is(fence, "TXT", genesis(), stamp("s1")), is(www, "A", a("192.0.2.2"), a("192.0.2.3"))},
		[]Record{stamp("s1")}, []Record{stamp("s3")})
	h, vs := s.history()
	vs = append(vs, CheckUpdateJournal(h)...)
	if len(vs) != 0 {
		t.Errorf("violations: %s", Report(vs))
	}
	if len(h.Requests) != 3 || !h.Requests[2].Refused || h.Requests[2].Agent != "r1" {
		t.Errorf("requests = %+v", h.Requests)
	}
}
