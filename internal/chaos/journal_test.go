package chaos

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
)

// The journal tests' zone: two managed records, an unmanaged TXT and A,
// and the fence record f0.
var (
	j1 = Record{ID: "1", Name: "www.example.com", Type: "A", Content: "198.18.60.10", TTL: 300, Comment: "web", Tags: []string{"team:a"}}
	j2 = Record{ID: "2", Name: "www.example.com", Type: "A", Content: "198.18.60.11", TTL: 60}
	f0 = Record{ID: "f0", Name: "_goavail.example.com", Type: "TXT", Content: "init"}
	f1 = Record{ID: "f1", Name: "_goavail.example.com", Type: "TXT", Content: "x 1"}
	f2 = Record{ID: "f2", Name: "_goavail.example.com", Type: "TXT", Content: "y 2"}
	f3 = Record{ID: "f3", Name: "_goavail.example.com", Type: "TXT", Content: "y 2 again"}
)

func list(agent string, t float64, v uint64) Op {
	return Op{Agent: agent, Zone: "example.com", At: at(t), List: true, Page: 1, Version: v}
}

func commit(agent string, arrive, done float64, base uint64, del, add, after []Record) Op {
	return Op{Agent: agent, Zone: "example.com", At: at(arrive), Committed: true, CommitAt: at(done), Base: base, Version: base + 1,
		Deleted: del, Created: add, After: after}
}

// goodJournal: writer x#1 lists, removes j1 (carrying the fence); after a
// hand-over y#1 lists and restores j1 exactly as it was; the heal at 9 s
// converges at 10.2 s. Versions start at 5 (the seeded records).
func goodJournal() History {
	j1b := j1
	j1b.ID = "1b"
	return History{
		Initial: []Record{j1, j2, txt, othr, f0},
		Journal: []Op{
			list("x#1", 1, 5),
			commit("x#1", 1.1, 1.2, 5, []Record{j1, f0}, []Record{f1}, []Record{j2, txt, othr, f1}),
			list("y#1", 10, 6),
			commit("y#1", 10.1, 10.2, 6, []Record{f1}, []Record{j1b, f2}, []Record{j1b, j2, txt, othr, f2}),
			list("x#1", 11, 7),
		},
		Heals:     []Heal{{Fault: "partition", At: at(9), Want: []string{j1.Content, j2.Content}}},
		Hostnames: []string{"www.example.com"}, Addrs: []string{j1.Content, j2.Content},
		Bound: 30 * time.Second, FenceName: "_goavail.example.com",
	}
}

func TestCheckJournal_GoodJournalPasses(t *testing.T) {
	if vs := CheckJournal(goodJournal()); len(vs) != 0 {
		t.Fatalf("violations in a good journal:\n%s", Report(vs))
	}
	// The same run's later batches of one pass chain on its own commits.
	h := goodJournal()
	h.Journal = append(h.Journal[:4:4], commit("y#1", 10.3, 10.4, 7, []Record{f2}, []Record{f3}, []Record{j1, j2, txt, othr, f3}))
	if vs := CheckJournal(h); len(vs) != 0 {
		t.Fatalf("two batches of one pass reported:\n%s", Report(vs))
	}
	// A zone's first write creates the genesis record beside the first
	// stamp: not a second successor.
	h = goodJournal()
	h.Initial = slices.DeleteFunc(slices.Clone(h.Initial), func(r Record) bool { return r.ID == f0.ID })
	h.Journal[1].Deleted = []Record{j1}
	h.Journal[1].Created = []Record{f1, {ID: "g1", Name: "_goavail.example.com", Type: "TXT", Content: dns.GenesisContent}}
	if vs := CheckJournal(h); len(vs) != 0 {
		t.Fatalf("the first write's genesis reported:\n%s", Report(vs))
	}
}

// lateRestore is the scenario of issue 19: writer x#1 lists (v5) and sends
// the restore of j1, which is held in transit; x#1 freezes; stand-in y#1
// lists, restores j1 itself, lists again and removes it (j1 went down
// again); then x#1's held restore commits and puts the dead record back.
// Without a fence nothing stops it; the journal shows it.
func lateRestore(fenced bool) History {
	h := goodJournal()
	h.FenceName = "" // nobody carries a fence yet
	j1b, j1c := j1, j1
	j1b.ID, j1c.ID = "1b", "1c"
	h.Initial = []Record{j2, txt, othr}
	h.Journal = []Op{
		list("x#1", 1, 5),
		list("y#1", 10, 5),
		commit("y#1", 10.1, 10.2, 5, nil, []Record{j1b}, []Record{j1b, j2, txt, othr}),
		list("y#1", 20, 6),
		commit("y#1", 20.1, 20.2, 6, []Record{j1b}, nil, []Record{j2, txt, othr}),
	}
	late := commit("x#1", 2, 47, 7, nil, []Record{j1c}, []Record{j1c, j2, txt, othr})
	if !fenced {
		h.Journal = append(h.Journal, late)
	} // with the fence the emulator refuses it (81044): no commit
	h.Heals = nil
	return h
}

// TestCheckJournal_CatchesTheLateRestore: the held restore that commits
// after the stand-in's removal is a stale write (f); the same journal
// without that commit (the fence refused it) passes.
func TestCheckJournal_CatchesTheLateRestore(t *testing.T) {
	r := Report(CheckJournal(lateRestore(false)))
	if !strings.Contains(r, "(f)") || !strings.Contains(r, "stale write: x#1's write") || !strings.Contains(r, "y#1 committed version 6") {
		t.Errorf("the late restore is not reported as a stale write:\n%s", r)
	}
	if vs := CheckJournal(lateRestore(true)); len(vs) != 0 {
		t.Errorf("the refused late restore reported:\n%s", Report(vs))
	}
}

// TestCheckJournal_RunsAreToldApart: a killed run's write that lands after
// its restarted run (same agent, same address) listed and wrote is stale;
// were both runs one identity, the later write would pass for a batch of
// the same pass, which is why agents are identified per run.
func TestCheckJournal_RunsAreToldApart(t *testing.T) {
	j1b := j1
	j1b.ID = "1b"
	h := goodJournal()
	h.FenceName, h.Heals = "", nil
	h.Initial = []Record{j1, j2, txt, othr}
	h.Journal = []Op{
		list("x#1", 1, 5),
		list("x#2", 10, 5), // x restarted; x#1's write is in flight
		commit("x#2", 10.1, 10.2, 5, []Record{j1}, nil, []Record{j2, txt, othr}),
		commit("x#1", 2, 15, 6, nil, []Record{j1b}, []Record{j1b, j2, txt, othr}),
	}
	if r := Report(CheckJournal(h)); !strings.Contains(r, "stale write: x#1's write") {
		t.Errorf("the killed run's late write is not reported:\n%s", r)
	}
	for i := range h.Journal {
		h.Journal[i].Agent = "x"
	}
	if r := Report(CheckJournal(h)); strings.Contains(r, "stale write") {
		t.Errorf("with one identity per agent the check was expected to be blind here (the test's premise):\n%s", r)
	}
}

// TestCheckJournal_CatchesEachViolation spoils the good journal one way
// at a time; each is named.
func TestCheckJournal_CatchesEachViolation(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		spoil      func(h *History)
	}{
		{"a write planned on no listing", "planned on no listing", func(h *History) { h.Journal = h.Journal[1:] }},
		{"a listing that arrived after the write is not its plan", "planned on no listing", func(h *History) { h.Journal[0].At = at(1.15) }},
		{"a hand edit between listing and write", "a hand edit committed", func(h *History) {
			edit := commit("", 10.05, 10.05, 6, nil, []Record{{ID: "9", Name: "x.example.com", Type: "A", Content: "192.0.2.9"}}, nil)
			h.Journal[3].Base, h.Journal[3].Version = 7, 8
			h.Journal = slices.Insert(h.Journal, 3, edit)
			h.Journal[3].After = h.Journal[2].After
		}},
		{"its own write in flight during the listing", "stale write: y#1's write", func(h *History) {
			// y#1's earlier write arrived before its listing and committed after it.
			h.Journal[2].Version = 5
			early := commit("y#1", 9.9, 10.05, 5, nil, []Record{{ID: "9", Name: "x.example.com", Type: "A", Content: "192.0.2.9"}}, h.Journal[1].After)
			h.Journal[3].Base, h.Journal[3].Version = 6, 7
			h.Journal = slices.Insert(h.Journal, 3, early)
			h.FenceName = ""
		}},
		{"a foreign commit between the pass's A and AAAA listings", "stale write: y#1's write", func(h *History) {
			h.FenceName = ""
			h.Journal[2].Type, h.Journal[2].Version = "A", 5
			edit := commit("", 10.02, 10.02, 5, nil, []Record{{ID: "9", Name: "x.example.com", Type: "A", Content: "192.0.2.9"}}, h.Journal[1].After)
			aaaa := list("y#1", 10.05, 6)
			aaaa.Type = "AAAA"
			h.Journal = slices.Insert(h.Journal, 3, edit, aaaa)
		}},
		{"a hostname emptied", "(b) ", func(h *History) { h.Journal[1].After = []Record{txt, othr, f1} }},
		{"a write without the fence", "created 0 fence records", func(h *History) {
			h.Journal[3].Deleted, h.Journal[3].Created = nil, h.Journal[3].Created[:1]
		}},
		{"a fork of the fence chain", "the fence chain broke", func(h *History) { h.Journal[3].Deleted = []Record{f0} }},
		{"two first writes both landed", "second genesis", func(h *History) {
			g := Record{ID: "g1", Name: "_goavail.example.com", Type: "TXT", Content: dns.GenesisContent}
			h.Journal[1].Created = append(h.Journal[1].Created, g)
			g.ID = "g2"
			h.Journal[3].Created = append(h.Journal[3].Created, g)
		}},
		{"the genesis deleted", "deleted the fence's genesis", func(h *History) {
			g := Record{ID: "g1", Name: "_goavail.example.com", Type: "TXT", Content: dns.GenesisContent}
			h.Initial = append(h.Initial, g)
			h.Journal[3].Deleted = append(h.Journal[3].Deleted, g)
		}},
		{"a restore with another ttl", "(h)", func(h *History) { h.Journal[3].Created[0].TTL = 60 }},
		{"a restore without its comment", "(h)", func(h *History) { h.Journal[3].Created[0].Comment = "" }},
		{"a restore without its tags", "(h)", func(h *History) { h.Journal[3].Created[0].Tags = nil }},
		{"a restore unproxied", "(h)", func(h *History) {
			h.Journal[1].Deleted[0].Proxied, h.Journal[1].Deleted[0].TTL = true, 1
			h.Journal[3].Created[0].TTL = 1
		}},
		{"a restore that ignores the configured ttl", "(h)", func(h *History) { h.TTL = 120 }},
		{"no write after the heal", "liveness", func(h *History) { h.Journal = h.Journal[:2] }},
		{"the write too late", "liveness", func(h *History) { h.Journal[3].CommitAt = at(45) }},
		{"the heal's truth never reached", "liveness", func(h *History) { h.Heals[0].Want = []string{j1.Content} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := goodJournal()
			tc.spoil(&h)
			r := Report(CheckJournal(h))
			if !strings.Contains(r, tc.want) {
				t.Errorf("want a violation %q, got:\n%s", tc.want, r)
			}
		})
	}
	// Already matching at the heal: no write is needed.
	h := goodJournal()
	h.Heals[0] = Heal{Fault: "kill", At: at(11), Want: []string{j1.Content, j2.Content}}
	if vs := CheckJournal(h); len(vs) != 0 {
		t.Errorf("a heal with the zone already right:\n%s", Report(vs))
	}
}
