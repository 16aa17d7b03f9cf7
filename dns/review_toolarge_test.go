package dns

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// sizeZone is an in-memory zone whose provider refuses a batch of more
// than limit changes for its size alone (RejectedError.TooLarge, Limit =
// limit), as Cloudflare does over the plan's limit, and a batch holding a
// create of bad content for that content (when contentFirst, before
// looking at its size). After every committed batch it notes each name
// left with no A record, and counts the removals made.
type sizeZone struct {
	mu           sync.Mutex
	records      []Record
	names        []string
	limit        int
	bad          string
	contentFirst bool
	next         int
	batches      int
	tooLarge     int
	removed      int
	emptied      []string
}

func (z *sizeZone) Records(_ context.Context, _ string, types []string) ([]Record, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	return slices.Clone(z.records), nil
}

func (z *sizeZone) Apply(_ context.Context, _ string, creates, deletes []Record) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.applyLocked(creates, deletes, 0)
}

// applyLocked applies a batch of creates and deletes and extra other
// operations (the fence's), all counted against the limit.
func (z *sizeZone) applyLocked(creates, deletes []Record, extra int) error {
	z.batches++
	content := func() error {
		for _, c := range creates {
			if c.Content == z.bad {
				return &RejectedError{Status: 400, Code: 9005, Content: true, Message: "bad content", Err: fmt.Errorf("9005 %s", c.Content)}
			}
		}
		return nil
	}
	size := func() error {
		if n := len(creates) + len(deletes) + extra; n > z.limit {
			z.tooLarge++
			return &RejectedError{Status: 400, Code: 1004, TooLarge: true, Limit: z.limit, Message: "too large", Err: fmt.Errorf("1004: %d changes exceeds the limit of %d", n, z.limit)}
		}
		return nil
	}
	checks := []func() error{size, content}
	if z.contentFirst {
		checks = []func() error{content, size}
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	for _, d := range deletes {
		if !slices.ContainsFunc(z.records, func(r Record) bool { return r.ID == d.ID }) {
			return &StaleError{Code: 81044, Err: fmt.Errorf("record %s is gone", d.ID)}
		}
	}
	for _, d := range deletes {
		z.records = slices.DeleteFunc(z.records, func(r Record) bool { return r.ID == d.ID })
		z.removed++
	}
	for _, c := range creates {
		z.next++
		c.ID = fmt.Sprintf("n%d", z.next)
		z.records = append(z.records, c)
	}
	for _, n := range z.names {
		if !slices.ContainsFunc(z.records, func(r Record) bool { return r.Name == n && r.Type == "A" }) {
			z.emptied = append(z.emptied, fmt.Sprintf("%s after batch %d", n, z.batches))
		}
	}
	return nil
}

// fencedSizeZone is a sizeZone behind a zone fence: the fence's delete
// and post (and the genesis record's, on a fresh zone) count against the
// batch's limit, as Cloudflare's batch counts them.
type fencedSizeZone struct {
	*sizeZone
	stamp string // "" no fence yet
}

func (z *fencedSizeZone) FenceName(zone string) string { return "_goavail." + zone }

func (z *fencedSizeZone) ReadFence(_ context.Context, zone string) (ZoneFence, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	f := ZoneFence{Name: z.FenceName(zone)}
	if z.stamp != "" {
		f.Genesis = Record{ID: "genesis", Type: "TXT", Name: f.Name, Content: GenesisContent}
		f.Stamps = []Record{{ID: z.stamp, Type: "TXT", Name: f.Name}}
	}
	return f, nil
}

func (z *fencedSizeZone) ApplyFenced(_ context.Context, zone string, f ZoneFence, _ FenceStamp, creates, deletes []Record) (ZoneFence, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if f.ID() != z.stamp {
		return f, &FenceMovedError{Err: fmt.Errorf("fence %q is gone", f.ID())}
	}
	// The stamp's delete and post, or on a fresh zone the genesis
	// record's and the stamp's posts: two more operations either way.
	if err := z.applyLocked(creates, deletes, 2); err != nil {
		return f, err
	}
	z.next++
	z.stamp = fmt.Sprintf("f%d", z.next)
	return ZoneFence{Name: f.Name, Genesis: Record{ID: "genesis"}, Stamps: []Record{{ID: z.stamp}}}, nil
}

// TestReview_TooLarge: a zone of 200 names, each with a dead address to
// remove, a live one kept and a live one to restore, is reconciled with
// batch_size 500 where the provider takes 7 changes a batch. Whether
// max_removals holds removals back, and whether a bad restore splits a
// batch whose halves are then refused as too large: every removal
// allowed is made in the pass, none is quarantined or lost, the budget
// is not exceeded (also at a second pass in the window), and no name is
// left with no A record after any batch.
func TestReview_TooLarge(t *testing.T) {
	for _, tc := range []struct {
		name         string
		maxRemovals  int
		bad          bool
		contentFirst bool
		fenced       bool
	}{
		{name: "mixed"},
		{name: "max_removals", maxRemovals: 60},
		{name: "bad restore, size first", maxRemovals: 70, bad: true},
		{name: "bad restore, content first (a split half refused as too large)", maxRemovals: 70, bad: true, contentFirst: true},
		{name: "fenced", fenced: true},
		{name: "fenced, max_removals, bad restore", maxRemovals: 70, bad: true, fenced: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const names = 200
			dead, kept, back := addrs(3)[0], addrs(3)[1], addrs(3)[2]
			badAddr := addrs(4)[3]
			g := Group{Zone: "example.com", Addrs: []netip.Addr{dead, kept, back}, TTL: 60}
			z := &sizeZone{limit: 7, contentFirst: tc.contentFirst}
			for i := range names {
				n := fmt.Sprintf("h%02d.example.com", i)
				g.Hostnames = append(g.Hostnames, n)
				z.names = append(z.names, n)
				for _, a := range []netip.Addr{dead, kept} {
					z.next++
					z.records = append(z.records, Record{ID: fmt.Sprintf("s%d", z.next), Name: n, Type: "A", Content: a.String(), TTL: 60})
				}
			}
			groups := []Group{g}
			health := Health{dead: false, kept: true, back: true}
			if tc.bad {
				z.bad = badAddr.String()
				health[badAddr] = true
				groups = append(groups, Group{Zone: "example.com", Hostnames: []string{"h07.example.com"}, Addrs: []netip.Addr{badAddr}, TTL: 60})
			}
			now := time.Unix(1_700_000_000, 0)
			var prov Provider = z
			if tc.fenced {
				prov = &fencedSizeZone{sizeZone: z}
			}
			r := NewReconciler(ReconcilerConfig{Provider: prov, Health: func() Health { return health }, Log: discard(), Now: func() time.Time { return now },
				BatchSize: 500, Safety: Safety{MaxRemovals: tc.maxRemovals, RemovalWindow: time.Hour}})
			r.SetGroups(groups, time.Minute)
			rep := r.Pass(context.Background())
			if rep.Err != nil {
				t.Fatalf("pass: %v", rep.Err)
			}
			p := rep.Plans[0]
			wantDel := names
			if tc.maxRemovals > 0 {
				wantDel = tc.maxRemovals
			}
			var quarantined []string
			for _, q := range p.Quarantined {
				quarantined = append(quarantined, q.Action+" "+q.Record.Content)
			}
			wantQ := 0
			if tc.bad {
				wantQ = 1
			}
			if len(p.Deletes) != wantDel || len(p.Deferred) != names-wantDel || len(p.Failed) != 0 || len(quarantined) != wantQ || len(p.Blocked) != 0 {
				t.Errorf("pass: %d deletes, %d deferred, %d failed, %d blocked, quarantined %v; want %d, %d, 0, 0, %d (the bad restore)",
					len(p.Deletes), len(p.Deferred), len(p.Failed), len(p.Blocked), quarantined, wantDel, names-wantDel, wantQ)
			}
			if tc.bad && len(quarantined) == 1 && quarantined[0] != "create "+badAddr.String() {
				t.Errorf("quarantined %v, want only the bad restore", quarantined)
			}
			if z.tooLarge == 0 {
				t.Errorf("no batch refused as too large: the test does not test the path")
			}
			if z.removed != wantDel {
				t.Errorf("%d removals made, want %d", z.removed, wantDel)
			}
			now = now.Add(time.Minute)
			if rep := r.Pass(context.Background()); rep.Err != nil {
				t.Fatalf("pass 2: %v", rep.Err)
			}
			if z.removed != wantDel {
				t.Errorf("after a second pass in the window, %d removals made, want %d (max_removals %d)", z.removed, wantDel, tc.maxRemovals)
			}
			if len(z.emptied) > 0 {
				t.Errorf("names left with no A record: %v", z.emptied)
			}
		})
	}
}
