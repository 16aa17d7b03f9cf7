package history

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func ev(at time.Duration, kind Kind, addr string) Event {
	return Event{At: t0.Add(at), Kind: kind, Node: "n1", Address: addr}
}

func TestBolt_KeepsEventsAcrossReopenAndFilters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.history.db")
	s, err := Open(path, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	a := ev(0, KindTransition, "192.0.2.1")
	a.Hostnames = []string{"www.example.com"}
	dnsEv := Event{At: t0.Add(time.Second), Kind: KindDNS, Node: "n1", Name: "www.example.com", Content: "192.0.2.1", Mode: ModeApplied}
	if err := s.Append([]Event{a, ev(2*time.Second, KindTransition, "192.0.2.2"), dnsEv}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		f    Filter
		want int
	}{
		{Filter{}, 3},
		{Filter{Address: "192.0.2.1"}, 2}, // the transition and the record with that content
		{Filter{Hostname: "WWW.example.com."}, 2},
		{Filter{Since: t0.Add(time.Second)}, 2},
		{Filter{Limit: 1}, 1},
	} {
		got, err := s.Query(c.f)
		if err != nil || len(got) != c.want {
			t.Errorf("Query(%+v) = %d events, %v; want %d", c.f, len(got), err, c.want)
		}
	}
	got, _ := s.Query(Filter{Limit: 1})
	if got[0].Address != "192.0.2.2" {
		t.Errorf("Limit keeps %+v, want the newest (192.0.2.2)", got[0])
	}
}

func TestBolt_PrunesByAgeAndSize(t *testing.T) {
	now := t0
	s, err := Open(filepath.Join(t.TempDir(), "h.db"), Options{MaxAge: time.Hour, MaxBytes: 20 << 10, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Append([]Event{ev(0, KindStart, "")})
	now = t0.Add(2 * time.Hour)
	s.Append([]Event{ev(2*time.Hour, KindStop, "")})
	got, _ := s.Query(Filter{})
	if len(got) != 1 || got[0].Kind != KindStop {
		t.Fatalf("after an hour past max age: %+v, want only the stop", got)
	}
	for i := range 1000 {
		s.Append([]Event{ev(2*time.Hour+time.Duration(i)*time.Millisecond, KindTransition, "192.0.2.1")})
	}
	if s.Size() > 20<<10 {
		t.Errorf("size %d past the bound %d", s.Size(), 20<<10)
	}
	got, _ = s.Query(Filter{})
	if len(got) == 0 || len(got) > 500 || got[len(got)-1].At != t0.Add(2*time.Hour+999*time.Millisecond) {
		t.Errorf("after 1000 events over the size bound: %d kept, last %v", len(got), got[len(got)-1].At)
	}
}

func TestBolt_CorruptFileIsSetAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "h.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Append([]Event{ev(0, KindStart, "")})
	s.Close()
	b, _ := os.ReadFile(path)
	for i := range b { // garble everything past the first page
		if i > 4096 && i%7 == 0 {
			b[i] ^= 0xa5
		}
	}
	os.WriteFile(path, b, 0o600)
	for _, garble := range [][]byte{b, []byte("not a bbolt file at all")} {
		os.WriteFile(path, garble, 0o600)
		s, err = Open(path, Options{Now: func() time.Time { return t0 }})
		if err != nil {
			t.Fatalf("a corrupt file stops the store: %v", err)
		}
		if got, _ := s.Query(Filter{}); len(got) != 0 {
			t.Errorf("a fresh store after corruption holds %d events", len(got))
		}
		s.Close()
		aside, _ := filepath.Glob(path + ".corrupt-*")
		if len(aside) != 1 || !strings.HasSuffix(aside[0], "20261207T120000Z") {
			t.Fatalf("set aside: %v", aside)
		}
		os.Remove(aside[0])
	}
}

func TestBolt_SecondWriterIsLockedOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(path, Options{Timeout: 50 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), ErrLocked.Error()) {
		t.Errorf("a second Open = %v, want ErrLocked (and the file untouched)", err)
	}
	if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 0 {
		t.Errorf("a locked file was set aside: %v", aside)
	}
}

// blockingStore holds Append until released, to fill the queue.
type blockingStore struct {
	*Memory
	entered chan struct{}
	release chan struct{}
}

func (b *blockingStore) Append(e []Event) error {
	b.entered <- struct{}{}
	<-b.release
	return b.Memory.Append(e)
}

func TestRecorder_DropsWhenFullAndFlushesOnClose(t *testing.T) {
	st := &blockingStore{Memory: NewMemory(0), entered: make(chan struct{}), release: make(chan struct{})}
	r := NewRecorder(st, 4, nil)
	go r.Run(context.Background())
	r.Record(ev(0, KindStart, ""))
	<-st.entered // the writer holds the first event; the queue is empty
	for i := range 6 {
		r.Record(ev(time.Duration(i+1)*time.Second, KindTransition, "192.0.2.1"))
	}
	if r.Dropped() != 2 {
		t.Errorf("dropped %d, want 2 (6 events, a queue of 4)", r.Dropped())
	}
	go func() {
		for range st.entered {
		}
	}()
	close(st.release)
	r.Close()
	if got, _ := st.Query(Filter{}); len(got) != 5 {
		t.Errorf("stored %d events after Close, want 5", len(got))
	}
	var nilRec *Recorder
	nilRec.Record(Event{}) // no panic
}

func TestMemory_KeepsTheNewest(t *testing.T) {
	m := NewMemory(3)
	for i := range 5 {
		m.Append([]Event{ev(time.Duration(i)*time.Second, KindTransition, "192.0.2.1")})
	}
	got, _ := m.Query(Filter{})
	if len(got) != 3 || got[0].At != t0.Add(2*time.Second) {
		t.Errorf("got %+v", got)
	}
}

func TestEvent_Line(t *testing.T) {
	e := Event{At: t0, Node: "n1", Kind: KindTransition, Address: "192.0.2.1", From: "up", To: "down", Lost: 3, Probes: 3, Reason: "timeout", Hostnames: []string{"www.example.com"}}
	want := "2026-12-07T12:00:00.000Z n1 transition 192.0.2.1 up -> down (www.example.com) lost 3/3: timeout"
	if got := e.Line(); got != want {
		t.Errorf("Line() = %q\nwant      %q", got, want)
	}
	d := Event{At: t0, Node: "n2", Kind: KindDNS, Mode: ModeVerified, Action: "delete", Name: "www.example.com", Type: "A", Content: "192.0.2.1", Zone: "example.com", PropagationMS: 1500, OutageToDNSMS: 9000}
	want = "2026-12-07T12:00:00.000Z n2 dns        verified delete www.example.com A 192.0.2.1 in example.com propagation 1.5s outage-to-dns 9s"
	if got := d.Line(); got != want {
		t.Errorf("Line() = %q\nwant      %q", got, want)
	}
}

// TestBolt_SetBoundsAppliesAtTheNextWrite: a reload's shorter age drops
// the older events at the next write.
func TestBolt_SetBoundsAppliesAtTheNextWrite(t *testing.T) {
	now := t0
	s, err := Open(filepath.Join(t.TempDir(), "h.db"), Options{MaxAge: 48 * time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Append([]Event{ev(0, KindStart, "")})
	now = t0.Add(3 * time.Hour)
	s.Append([]Event{ev(3*time.Hour, KindReload, "")})
	if got, _ := s.Query(Filter{}); len(got) != 2 {
		t.Fatalf("within max age: %d events, want 2", len(got))
	}
	s.SetBounds(2*time.Hour, 0)
	s.Append([]Event{ev(3*time.Hour+time.Second, KindStop, "")})
	if got, _ := s.Query(Filter{}); len(got) != 2 || got[0].Kind != KindReload {
		t.Errorf("after SetBounds(2h): %+v, want the reload and the stop", got)
	}
}
