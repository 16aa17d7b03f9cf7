package chaos

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var c0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return c0.Add(time.Duration(s * float64(time.Second))) }

var (
	a1   = Record{ID: "1", Name: "www.example.com", Type: "A", Content: "198.18.60.10"}
	a2   = Record{ID: "2", Name: "www.example.com", Type: "A", Content: "198.18.60.11"}
	txt  = Record{ID: "3", Name: "www.example.com", Type: "TXT", Content: "v=spf1 -all"}
	othr = Record{ID: "4", Name: "www.example.com", Type: "A", Content: "198.51.100.7"} // unmanaged address
)

// good is a history that keeps every invariant: agent x removes a1 after
// x and y saw it down, under its lease; then y takes over after x's lease
// ended and restores it; the one heal converged in 5 s.
func good() History {
	a1b := a1
	a1b.ID = "5"
	return History{
		Initial: []Record{a1, a2, txt, othr},
		Requests: []Request{
			{At: at(1), Agent: "x"},
			{At: at(10.1), Agent: "x", Write: true, Zone: []Record{a2, txt, othr}},
			{At: at(30.2), Agent: "y", Write: true, Zone: []Record{a2, txt, othr, a1b}},
		},
		Fences: []Fence{{"x", at(10), at(12)}, {"x", at(11), at(13)}, {"y", at(30), at(32)}},
		Sights: []Sight{
			{"x", at(8), a1.Content, true}, {"y", at(9), a1.Content, true},
			{"z", at(9.5), a1.Content, true}, {"z", at(9.6), a1.Content, false},
			{"x", at(29), a1.Content, false}, {"y", at(29), a1.Content, false},
		},
		Heals:     []Heal{{Fault: "partition", At: at(20), Converged: at(25)}},
		Hostnames: []string{"www.example.com"}, Addrs: []string{a1.Content, a2.Content},
		Voters: []string{"x", "y", "z"}, Need: 2, Window: 5 * time.Second, Transit: 200 * time.Millisecond, Bound: 30 * time.Second,
	}
}

func TestCheck_GoodHistoryPasses(t *testing.T) {
	if vs := Check(good()); len(vs) != 0 {
		t.Fatalf("violations in a good history:\n%s", Report(vs))
	}
	// The fence record is replaced by every write: not an unmanaged change.
	h := good()
	fence := Record{ID: "f", Name: "_goavail.example.com", Type: "TXT", Content: "x"}
	h.Initial = append(h.Initial, fence)
	h.FenceName = fence.Name
	if vs := Check(h); len(vs) != 0 {
		t.Errorf("the fence's replacement reported:\n%s", Report(vs))
	}
	h.FenceName = ""
	if r := Report(Check(h)); !strings.Contains(r, "(c)") {
		t.Errorf("without FenceName the TXT record is unmanaged, its removal a violation; got:\n%s", r)
	}
}

// TestCheck_CatchesEachViolation feeds crafted bad histories: each breaks
// one invariant, and the checker names it.
func TestCheck_CatchesEachViolation(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		spoil      func(h *History)
	}{
		{"write without a lease", "(a)", func(h *History) { h.Requests[1].Agent = "z" }},
		{"write after the lease ended", "(a)", func(h *History) { h.Requests[1].At = at(13.5) }},
		{"two writers' leases overlap", "two writers", func(h *History) { h.Fences = append(h.Fences, Fence{"y", at(12.5), at(14)}) }},
		{"a late write lands in the next writer's lease", "two writers at the API", func(h *History) {
			h.Transit = 20 * time.Second
			h.Requests[1].At = at(30.1) // x's write, sent in x's lease, arrives in y's
		}},
		{"a hostname emptied", "(b)", func(h *History) { h.Requests[1].Zone = []Record{txt, othr} }}, // othr is not managed
		{"an unmanaged record removed", "(c)", func(h *History) { h.Requests[2].Zone = []Record{a2, a1, othr} }},
		{"an unmanaged record changed", "(c)", func(h *History) {
			o := othr
			o.Content = "198.51.100.8"
			h.Requests[1].Zone = []Record{a2, txt, o}
		}},
		{"removed on one agent's sight", "(d)", func(h *History) { h.Sights = h.Sights[:1] }},
		{"removed on an old sight", "(d)", func(h *History) {
			h.Sights = []Sight{{"x", at(1), a1.Content, true}, {"y", at(1), a1.Content, true}, {"y", at(2), a1.Content, false}}
		}},
		{"removed on a non-voter's sight", "(d)", func(h *History) { h.Voters = []string{"x", "w"} }},
		{"a heal never converged", "(e)", func(h *History) { h.Heals[0].Converged = time.Time{} }},
		{"a heal too slow", "(e)", func(h *History) { h.Heals[0].Converged = at(60) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := good()
			tc.spoil(&h)
			r := Report(Check(h))
			if !strings.Contains(r, tc.want) {
				t.Errorf("want a violation %s, got:\n%s", tc.want, r)
			}
		})
	}
}

// TestCheck_RefusedWriteIsNoWrite: a write the API refused whole (a moved
// zone fence) changed nothing, so a lease-less one is no violation; the
// same write applied is one.
func TestCheck_RefusedWriteIsNoWrite(t *testing.T) {
	h := good()
	refused := Request{At: h.Requests[1].At.Add(time.Millisecond), Agent: "z", Write: true, Refused: true, Zone: h.Requests[1].Zone} // z holds no lease
	h.Requests = slices.Insert(h.Requests, 2, refused)
	if vs := Check(h); len(vs) != 0 {
		t.Fatalf("a refused write reported:\n%s", Report(vs))
	}
	h.Requests[2].Refused = false
	if r := Report(Check(h)); !strings.Contains(r, "(a)") {
		t.Errorf("the same write applied is not reported:\n%s", r)
	}
}
