package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fenceZone is an in-memory zone with conditional writes, as a Fencer
// provider keeps it: every write replaces the fence's stamp, and a write
// naming a stamp that is gone is refused whole.
type fenceZone struct {
	mu        sync.Mutex
	records   []Record
	stamp     Record // the current stamp ("" ID: no fence yet)
	next      int
	writes    []string // every committed write, for the test to read
	refused   int
	afterRead func() // runs once, after the next ReadFence (another writer)
}

func (z *fenceZone) id() string { z.next++; return fmt.Sprintf("r%d", z.next) }

func (z *fenceZone) Records(_ context.Context, _ string, types []string) ([]Record, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	var out []Record
	for _, r := range z.records {
		if slices.Contains(types, r.Type) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (z *fenceZone) Apply(context.Context, string, []Record, []Record) error {
	return errors.New("unconditional write to a fencing provider")
}

func (z *fenceZone) FenceName(zone string) string { return "_goavail." + zone }

func (z *fenceZone) ReadFence(_ context.Context, zone string) (ZoneFence, error) {
	z.mu.Lock()
	f := ZoneFence{Name: z.FenceName(zone)}
	if z.stamp.ID != "" {
		f.Genesis = Record{ID: "genesis", Type: "TXT", Name: f.Name, Content: GenesisContent}
		f.Stamps = []Record{z.stamp}
	}
	hook := z.afterRead
	z.afterRead = nil
	z.mu.Unlock()
	if hook != nil {
		hook()
	}
	return f, nil
}

func (z *fenceZone) ApplyFenced(_ context.Context, zone string, f ZoneFence, s FenceStamp, creates, deletes []Record) (ZoneFence, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if f.ID() != z.stamp.ID || (f.Genesis.ID == "") != (z.stamp.ID == "") {
		z.refused++
		return f, &FenceMovedError{Err: fmt.Errorf("fence %q is gone", f.ID())}
	}
	for _, d := range deletes {
		if !slices.ContainsFunc(z.records, func(r Record) bool { return r.ID == d.ID }) {
			z.refused++
			return f, &FenceMovedError{Err: fmt.Errorf("record %s is gone", d.ID)}
		}
	}
	var w []string
	for _, d := range deletes {
		z.records = slices.DeleteFunc(z.records, func(r Record) bool { return r.ID == d.ID })
		w = append(w, "-"+d.Content)
	}
	for _, c := range creates {
		c.ID = z.id()
		z.records = append(z.records, c)
		w = append(w, "+"+c.Content)
	}
	z.stamp = Record{ID: z.id(), Type: "TXT", Name: z.FenceName(zone), Content: s.Content()}
	z.writes = append(z.writes, s.Writer+":"+strings.Join(w, " "))
	return ZoneFence{Name: f.Name, Genesis: Record{ID: "genesis"}, Stamps: []Record{z.stamp}}, nil
}

func (z *fenceZone) contents() string {
	z.mu.Lock()
	defer z.mu.Unlock()
	var out []string
	for _, r := range z.records {
		out = append(out, r.Content)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func fencedReconciler(z *fenceZone, writer string, h Health, clock Clock) *Reconciler {
	r := NewReconciler(ReconcilerConfig{Provider: z, Health: func() Health { return h }, Log: slog.New(slog.DiscardHandler), Clock: clock,
		Stamp: func() FenceStamp { return FenceStamp{Deployment: "goavail", Writer: writer} }})
	r.SetGroups([]Group{small}, time.Minute)
	return r
}

// TestZoneFence_StalePlanIsListedAgain: another writer changes the zone
// between this agent's fence read and its write. The provider refuses the
// write; the pass lists again and plans on what is there now, so the other
// writer's change is never undone by the stale plan.
func TestZoneFence_StalePlanIsListedAgain(t *testing.T) {
	z := &fenceZone{}
	z.records = []Record{{ID: z.id(), Name: "www.example.com", Type: "A", Content: ip1.String()}, {ID: z.id(), Name: "www.example.com", Type: "A", Content: ip2.String()}}
	// B (a newer writer) removes ip2 right after A read the fence. A, on
	// its stale listing, would remove ip1 and keep ip2.
	b := fencedReconciler(z, "b", Health{ip1: true, ip2: false}, nil)
	z.afterRead = func() {
		if rep := b.Pass(context.Background()); rep.Err != nil {
			t.Errorf("b: %v", rep.Err)
		}
	}
	a := fencedReconciler(z, "a", Health{ip1: false, ip2: true}, nil)
	rep := a.Pass(context.Background())
	if rep.Err != nil {
		t.Fatalf("a: %v", rep.Err)
	}
	if got := rep.FenceRefused(); got != 1 {
		t.Errorf("fence refusals %d, want 1 (a's first write was planned on a stale listing)", got)
	}
	// a's stale plan was "remove ip1" alone (ip2 was listed as there). Its
	// second plan starts from b's zone (ip1 only): restore ip2, and remove
	// ip1, the name's last record, only in a later pass (make before
	// break: it waits).
	if want := []string{"b:-" + ip2.String(), "a:+" + ip2.String()}; !slices.Equal(z.writes, want) {
		t.Errorf("committed writes %q, want %q", z.writes, want)
	}
	if w := rep.Plans[0].Waiting; len(w) != 1 || w[0].Content != ip1.String() {
		t.Errorf("waiting removals %v, want ip1's", w)
	}
}

// TestZoneFence_RefusedWriteRefundsItsRemovals: a write the provider refused
// applied nothing, so its removals do not count towards max_removals.
func TestZoneFence_RefusedWriteRefundsItsRemovals(t *testing.T) {
	z := &fenceZone{}
	z.records = []Record{{ID: z.id(), Name: "www.example.com", Type: "A", Content: ip1.String()}, {ID: z.id(), Name: "www.example.com", Type: "A", Content: ip2.String()}}
	z.afterRead = func() { // another write moves the fence, changing nothing we manage
		z.mu.Lock()
		z.stamp = Record{ID: z.id(), Content: FenceStamp{Deployment: "goavail", Writer: "other"}.Content()}
		z.mu.Unlock()
	}
	r := NewReconciler(ReconcilerConfig{Provider: z, Health: func() Health { return Health{ip1: false, ip2: true} }, Log: slog.New(slog.DiscardHandler),
		Safety: Safety{MaxRemovals: 1, RemovalWindow: time.Hour}})
	r.SetGroups([]Group{small}, time.Minute)
	rep := r.Pass(context.Background())
	if rep.Err != nil || rep.FenceRefused() != 1 {
		t.Fatalf("pass: err %v, refusals %d, want nil and 1", rep.Err, rep.FenceRefused())
	}
	if got := z.contents(); got != ip2.String() {
		t.Errorf("zone %s, want only %s: the refused write's removal was charged and the retry deferred", got, ip2)
	}
}

// TestZoneFence_GivesUpAfterBoundedRelists: a zone whose fence moves at
// every read ends the pass with the refusal, after a bounded number of
// lists, instead of spinning.
func TestZoneFence_GivesUpAfterBoundedRelists(t *testing.T) {
	z := &fenceZone{}
	z.records = []Record{{ID: z.id(), Name: "www.example.com", Type: "A", Content: ip1.String()}, {ID: z.id(), Name: "www.example.com", Type: "A", Content: ip2.String()}}
	var hook func()
	hook = func() {
		z.mu.Lock()
		z.stamp = Record{ID: z.id(), Content: FenceStamp{Deployment: "goavail", Writer: "busy"}.Content()}
		z.afterRead = hook
		z.mu.Unlock()
	}
	z.afterRead = hook
	r := fencedReconciler(z, "a", Health{ip1: false, ip2: true}, nil)
	rep := r.Pass(context.Background())
	var moved *FenceMovedError
	if !errors.As(rep.Err, &moved) || rep.FenceRefused() != maxFenceRelists+1 {
		t.Fatalf("err %v, refusals %d; want a FenceMovedError after %d", rep.Err, rep.FenceRefused(), maxFenceRelists+1)
	}
	if len(z.writes) != 0 || z.refused != maxFenceRelists+1 {
		t.Errorf("writes %q, refused %d", z.writes, z.refused)
	}
}

// TestZoneFence_ForeignDeploymentHolds: a zone last written by another
// deployment is not written for a reconcile period after this agent first
// saw that write; then it is.
func TestZoneFence_ForeignDeploymentHolds(t *testing.T) {
	clock := newFakeClock()
	z := &fenceZone{}
	z.records = []Record{{ID: z.id(), Name: "www.example.com", Type: "A", Content: ip1.String()}, {ID: z.id(), Name: "www.example.com", Type: "A", Content: ip2.String()}}
	z.stamp = Record{ID: z.id(), Content: FenceStamp{Deployment: "staging", Writer: "x", At: clock.Now()}.Content()}
	r := fencedReconciler(z, "a", Health{ip1: false, ip2: true}, clock)
	rep := r.Pass(context.Background())
	f := rep.Plans[0].Foreign
	if rep.Err != nil || f == nil || !f.Holding || f.Deployment != "staging" || len(z.writes) != 0 {
		t.Fatalf("first pass: err %v, foreign %+v, writes %q; want a hold naming staging and no write", rep.Err, f, z.writes)
	}
	clock.Advance(time.Minute - time.Second)
	if rep = r.Pass(context.Background()); len(z.writes) != 0 || !rep.Plans[0].Foreign.Holding {
		t.Fatalf("before the period: writes %q", z.writes)
	}
	clock.Advance(time.Second)
	rep = r.Pass(context.Background())
	if rep.Err != nil || len(z.writes) != 1 || rep.Plans[0].Foreign.Holding {
		t.Fatalf("after the period: err %v, writes %q, foreign %+v", rep.Err, z.writes, rep.Plans[0].Foreign)
	}
	// Our own stamp now: no foreign fence any more.
	if rep = r.Pass(context.Background()); rep.Plans[0].Foreign != nil {
		t.Errorf("our own fence reported foreign: %+v", rep.Plans[0].Foreign)
	}
}

// TestZoneFence_BatchesLeaveRoomForTheFence: with a fence, a batch holds
// at most BatchSize-2 changes, so the fence's delete and post fit.
func TestZoneFence_BatchesLeaveRoomForTheFence(t *testing.T) {
	z := &fenceZone{}
	var addrs []netip.Addr
	h := Health{}
	for i := 1; i <= 7; i++ {
		a := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		addrs = append(addrs, a)
		h[a] = true
	}
	r := NewReconciler(ReconcilerConfig{Provider: z, Health: func() Health { return h }, Log: slog.New(slog.DiscardHandler), BatchSize: 4})
	r.SetGroups([]Group{{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: addrs, TTL: 60}}, time.Minute)
	if rep := r.Pass(context.Background()); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if len(z.writes) != 4 { // 7 creates, 2 a batch
		t.Errorf("%d writes, want 4: %q", len(z.writes), z.writes)
	}
}

func TestFenceStamp_RoundTrip(t *testing.T) {
	s := FenceStamp{Deployment: "prod-eu", Writer: "agent-1", Term: 42, At: time.Date(2026, 12, 7, 10, 0, 0, 5, time.UTC)}
	got, err := ParseFenceStamp(`"` + s.Content() + `"`)
	if err != nil || got != s {
		t.Fatalf("got %+v, %v; want %+v", got, err, s)
	}
	for _, bad := range []string{"", "v=spf1 -all", FencePrefix + " v2 deployment=x", FencePrefix + " v1 writer=a", FencePrefix + " v1 deployment=x term=-1", FencePrefix + " v1 deployment=x junk"} {
		if _, err := ParseFenceStamp(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzParseFenceStamp: a fence record is read from the zone, where anyone
// with DNS access may write: any content parses or errs, never panics,
// and what parses prints back to itself.
func FuzzParseFenceStamp(f *testing.F) {
	f.Add(FenceStamp{Deployment: "d", Writer: "w", Term: 1, At: time.Unix(0, 0)}.Content())
	f.Add(GenesisContent)
	f.Add(FencePrefix + " v1 deployment=x at=2026-01-01T00:00:00Z")
	f.Fuzz(func(t *testing.T, content string) {
		s, err := ParseFenceStamp(content)
		if err != nil {
			return
		}
		again, err := ParseFenceStamp(s.Content())
		if err != nil || again.Deployment != s.Deployment || again.Term != s.Term || !again.At.Equal(s.At) {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", content, s, s.Content(), again, err)
		}
	})
}
