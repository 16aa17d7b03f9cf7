package dns

import (
	"fmt"
	"testing"
	"time"
)

// TestDamper_BoundsFlaps drives an address that flips on every pass and
// counts how often its DNS state (what the planner sees) changes: damping
// bounds it, holds the address out while it flaps, and lets it back once
// it has been quiet long enough.
func TestDamper_BoundsFlaps(t *testing.T) {
	cfg := Damping{HalfLife: 5 * time.Minute, Suppress: 2.5, Reuse: 0.75}
	d := newDamper(cfg)
	now := time.Unix(1700000000, 0)
	changes, prev := 0, true
	var suppressedAt time.Time
	for i := 0; i < 200; i++ { // flips every 2 s for 400 s
		out, ev := d.apply(now, Health{ip1: i%2 == 0, ip2: true})
		if out[ip1] != prev {
			changes++
			prev = out[ip1]
		}
		for _, e := range ev {
			if e.Suppressed && suppressedAt.IsZero() {
				suppressedAt = now
				if e.Until.Sub(now) < 9*time.Minute || e.Until.Sub(now) > 11*time.Minute {
					t.Errorf("release estimate %s, want about two half-lives", e.Until.Sub(now))
				}
			}
		}
		if !out[ip2] {
			t.Fatal("a steady address was damped")
		}
		now = now.Add(2 * time.Second)
	}
	if suppressedAt.IsZero() {
		t.Fatal("a flapping address was never suppressed")
	}
	if changes > 6 {
		t.Errorf("%d DNS changes in 400 s of flapping, want at most 6 (3 removals and restores before suppression)", changes)
	}
	// Quiet and up: held until the penalty decays below reuse, then back.
	released := time.Time{}
	for i := 0; i < 60; i++ {
		out, _ := d.apply(now, Health{ip1: true, ip2: true})
		if out[ip1] && released.IsZero() {
			released = now
		}
		now = now.Add(30 * time.Second)
	}
	if released.IsZero() {
		t.Fatal("never released after 30 quiet minutes")
	}
	if q := released.Sub(suppressedAt); q < 10*time.Minute {
		t.Errorf("released %s after suppression; the penalty cannot have decayed", q)
	}
	if q := released.Sub(now.Add(-30 * time.Minute)); q > 20*time.Minute+30*time.Second {
		t.Errorf("released %s after the flapping stopped, want at most four half-lives", q)
	}
	if off, _ := newDamper(Damping{}).apply(now, Health{ip1: false}); off[ip1] {
		t.Error("damping off changed health")
	}
}

func TestBudget_SlidingWindow(t *testing.T) {
	b := budget{max: 5, window: 10 * time.Minute}
	now := time.Unix(1700000000, 0)
	next := 0
	dels := func(n int) []Record {
		var out []Record
		for i := 0; i < n; i++ {
			next++
			out = append(out, Record{ID: fmt.Sprint("r", next)})
		}
		return out
	}
	for _, tc := range []struct {
		after time.Duration
		ask   int
		want  int
	}{
		{0, 3, 3},
		{time.Minute, 4, 2},
		{2 * time.Minute, 1, 0},
		{10 * time.Minute, 4, 3}, // the first 3 left the window
		{12 * time.Minute, 9, 2},
	} {
		ok, wait := b.split(now.Add(tc.after), dels(tc.ask))
		if len(ok) != tc.want || len(ok)+len(wait) != tc.ask {
			t.Errorf("at +%s asking %d: allowed %d, want %d", tc.after, tc.ask, len(ok), tc.want)
		}
		b.charge(now.Add(tc.after), ids(ok))
	}
	if ok, _ := (&budget{}).split(now, dels(1000)); len(ok) != 1000 {
		t.Error("no bound should allow everything")
	}
}

// TestBudget_ChargedBeforeSendingByRecord: a removal is charged before it
// is sent, by record; a retry of the same removal is free, a definite
// rejection refunds it, and a removal whose answer was lost stays charged.
func TestBudget_ChargedBeforeSendingByRecord(t *testing.T) {
	b := budget{max: 2, window: 10 * time.Minute}
	now := time.Unix(1700000000, 0)
	a, c, d := Record{ID: "a"}, Record{ID: "c"}, Record{ID: "d"}
	ok, _ := b.split(now, []Record{a})
	b.charge(now, ids(ok))   // sent; the answer was lost (timeout): stays charged
	for i := 0; i < 5; i++ { // retries of the same removal
		if ok, wait := b.split(now, []Record{a}); len(ok) != 1 || len(wait) != 0 {
			t.Fatalf("retry %d of a charged removal: %v waits", i, wait)
		}
		b.charge(now, []string{"a"})
	}
	ok, wait := b.split(now, []Record{c, d})
	if len(ok) != 1 || ok[0].ID != "c" || len(wait) != 1 {
		t.Fatalf("with one left: ok %v, wait %v", ok, wait)
	}
	b.charge(now, []string{"c"})
	b.refund([]string{"c"}) // the API refused it: not removed
	if ok, _ := b.split(now, []Record{d}); len(ok) != 1 {
		t.Errorf("a refunded removal still counts")
	}
}

func ids(recs []Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}
