package dns

import (
	"testing"
	"time"
)

// testMemory is an in-process Memory on the clock *now.
func testMemory(t *testing.T, now *time.Time) *Memory {
	t.Helper()
	m, err := LoadMemory("")
	if err != nil {
		t.Fatal(err)
	}
	m.now = func() time.Time { return *now }
	return m
}

func exported(t *testing.T, m *Memory) []byte {
	t.Helper()
	b, err := m.Export()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// restoredComment is the comment m would restore r with ("" if none).
func restoredComment(m *Memory, r Record) string {
	return m.Restore("example.com", []Record{{Name: r.Name, Type: r.Type, Content: r.Content}})[0].Comment
}

// TestMemory_MergeAcrossAPartitionAndAHandOver: A, the writer, removes r1
// just as a partition starts, so B never gets A's memory with it; B, the
// writer on the other side, removes r2. After the partition heals, each
// merges the other's memory: both keep both removals (replacing, as
// before, A lost r1 to B's copy, and B never had it). B then restores r1:
// its tombstone reaches A, which forgets r1 too, and a stale copy of A's
// older memory does not bring r1 back. A later removal of r1 with another
// comment wins over the tombstone. Tombstones go after ForgetFor.
func TestMemory_MergeAcrossAPartitionAndAHandOver(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	a, b := testMemory(t, &now), testMemory(t, &now)
	r1 := Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 300, Comment: "hand-made", Tags: []string{"team:web"}}
	r2 := Record{Name: "www.example.com", Type: "A", Content: "192.0.2.2", TTL: 300, Comment: "second"}

	if err := a.Remember("example.com", []Record{r1}); err != nil { // A removes r1; the partition starts
		t.Fatal(err)
	}
	staleA := exported(t, a)
	now = now.Add(time.Minute)
	if err := b.Remember("example.com", []Record{r2}); err != nil { // B, the writer now, removes r2
		t.Fatal(err)
	}
	now = now.Add(time.Minute) // healed: each merges the other's
	if err := a.Merge(exported(t, b)); err != nil {
		t.Fatal(err)
	}
	if err := b.Merge(exported(t, a)); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*Memory{"A": a, "B": b} {
		if restoredComment(m, r1) != "hand-made" || restoredComment(m, r2) != "second" || m.Len() != 2 {
			t.Errorf("after the hand-over %s restores r1 with %q and r2 with %q (%d records), want both remembered", name, restoredComment(m, r1), restoredComment(m, r2), m.Len())
		}
	}

	now = now.Add(time.Minute)
	if err := b.Forget("example.com", []Record{r1}); err != nil { // B restores r1
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	if err := a.Merge(exported(t, b)); err != nil {
		t.Fatal(err)
	}
	if err := b.Merge(staleA); err != nil { // A's copy from before the restore, late
		t.Fatal(err)
	}
	for name, m := range map[string]*Memory{"A": a, "B": b} {
		if c := restoredComment(m, r1); c != "" || m.Len() != 1 {
			t.Errorf("after r1's restore %s still remembers it (comment %q, %d records)", name, c, m.Len())
		}
	}

	now = now.Add(time.Minute)
	r1.Comment = "edited"
	if err := b.Remember("example.com", []Record{r1}); err != nil { // removed again
		t.Fatal(err)
	}
	if err := a.Merge(exported(t, b)); err != nil {
		t.Fatal(err)
	}
	if c := restoredComment(a, r1); c != "edited" {
		t.Errorf("a removal after the restore: A restores r1 with %q, want the new comment", c)
	}

	// On a tie this agent's event stays.
	now = now.Add(time.Minute)
	c := testMemory(t, &now)
	r2b := r2
	r2b.Comment = "other"
	if err := c.Remember("example.com", []Record{r2b}); err != nil {
		t.Fatal(err)
	}
	if err := b.Remember("example.com", []Record{r2}); err != nil {
		t.Fatal(err)
	}
	if err := c.Merge(exported(t, b)); err != nil {
		t.Fatal(err)
	}
	if got := restoredComment(c, r2); got != "other" {
		t.Errorf("a tie: restores r2 with %q, want this agent's", got)
	}

	// Tombstones last ForgetFor.
	if err := b.Forget("example.com", []Record{r2}); err != nil {
		t.Fatal(err)
	}
	tomb := exported(t, b)
	now = now.Add(ForgetFor + time.Minute)
	fresh := testMemory(t, &now)
	if err := fresh.Merge(tomb); err != nil {
		t.Fatal(err)
	}
	if len(fresh.forgotten) != 0 {
		t.Errorf("a tombstone older than ForgetFor was kept: %v", fresh.forgotten)
	}
	if err := b.Forget("example.com", []Record{r1}); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.forgotten[memKey{"example.com", r2.Name, r2.Type, r2.Content}]; ok {
		t.Error("a tombstone older than ForgetFor outlived the next save")
	}
}
