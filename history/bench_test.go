package history

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The benchmarks measure what the history costs an agent watching 10,000
// addresses of which 1 % flap: 100 addresses, each changing state once a
// minute, every change making four events (this agent's transition with
// its evidence, the agreement, the DNS change applied, and its
// verification): flapRate events a second.
const (
	targets   = 10000
	flapping  = targets / 100
	flapRate  = flapping * 4 / 60.0 // events per second
	dayEvents = flapRate * 86400
)

// flapEvents is one change's four events for address i at t.
func flapEvents(i int, t time.Time) []Event {
	addr := fmt.Sprintf("198.18.%d.%d", i/250, i%250+1)
	h := []string{fmt.Sprintf("app%d.example.com", i%50)}
	return []Event{
		{At: t, Kind: KindTransition, Node: "agent-1", Address: addr, Hostnames: h, From: "up", To: "down", Lost: 3, Probes: 64,
			RTTsMS: []float64{1.92, 2.05, 1.98, 2.4, 2.11}, Reason: "no reply within 1s"},
		{At: t.Add(800 * time.Millisecond), Kind: KindAgreed, Node: "agent-1", Address: addr, Hostnames: h, From: "up", To: "down", Voters: []string{"agent-1", "agent-2", "agent-3"}},
		{At: t.Add(time.Second), Kind: KindDNS, Node: "agent-1", Zone: "example.com", Name: h[0], Type: "A", Content: addr, Action: "delete", Mode: ModeApplied, Hostnames: h},
		{At: t.Add(3 * time.Second), Kind: KindDNS, Node: "agent-1", Zone: "example.com", Name: h[0], Type: "A", Content: addr, Action: "delete", Mode: ModeVerified, Hostnames: h, PropagationMS: 2031, OutageToDNSMS: 5120},
	}
}

// BenchmarkRecord is the probe path's own cost: one Record call, the
// event queued for the writer, beside "none", the nil Recorder of an agent
// without history. The writer starts after the loop (its cost is
// BenchmarkStore_Flapping's); run it with -benchtime below the queue's
// 65,536 so that nothing is dropped.
func BenchmarkRecord(b *testing.B) {
	evs := flapEvents(7, time.Now())
	b.Run("none", func(b *testing.B) {
		var r *Recorder
		for i := 0; b.Loop(); i++ {
			r.Record(evs[i%4])
		}
	})
	b.Run("bbolt", func(b *testing.B) {
		s, err := Open(filepath.Join(b.TempDir(), "h.db"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		r := NewRecorder(s, 1<<16, nil) // room for the events: the cost of queuing, not of dropping
		for i := 0; b.Loop(); i++ {
			r.Record(evs[i%4])
		}
		b.StopTimer()
		go r.Run(context.Background())
		r.Close()
		b.ReportMetric(float64(r.Dropped())/float64(b.N), "dropped/op")
	})
}

// BenchmarkStore_Flapping writes the flapping stream through a Recorder
// into bbolt as fast as it goes: ns/op is the whole CPU and disk cost of
// one event (caller and writer, fsync included), so flapRate*ns/op is the
// share of a core the history takes at that rate. It reports the bytes an
// event takes in the file, and the file's size after 24 h at flapRate
// (before the size bound), extrapolated from the measured run.
func BenchmarkStore_Flapping(b *testing.B) {
	path := filepath.Join(b.TempDir(), "h.db")
	s, err := Open(path, Options{MaxBytes: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	r := NewRecorder(s, 1<<16, nil)
	go r.Run(context.Background())
	t := time.Now()
	n := 0
	for b.Loop() {
		if n%4 == 0 {
			for _, e := range flapEvents(n/4%flapping, t.Add(time.Duration(float64(n)/flapRate*float64(time.Second)))) {
				r.Record(e)
			}
		}
		n++
	}
	r.Close() // every event written: part of the cost
	b.StopTimer()
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	events := (n + 3) / 4 * 4
	perEvent := float64(fi.Size()) / float64(events)
	b.ReportMetric(perEvent, "filebytes/event")
	b.ReportMetric(float64(s.Size())/float64(events), "bytes/event")
	b.ReportMetric(perEvent*dayEvents/(1<<20), "MiB/24h")
	b.ReportMetric(flapRate, "events/s")
	b.ReportMetric(float64(r.Dropped()), "dropped")
}

// BenchmarkStore_Bounded writes the flapping stream into a store bounded
// at 4 MiB, well past the bound, and reports the file's size beside it:
// bbolt reuses freed pages, so the file stops growing.
func BenchmarkStore_Bounded(b *testing.B) {
	path := filepath.Join(b.TempDir(), "h.db")
	s, err := Open(path, Options{MaxBytes: 4 << 20})
	if err != nil {
		b.Fatal(err)
	}
	t := time.Now()
	n := 0
	for b.Loop() {
		if err := s.Append(flapEvents(n%flapping, t.Add(time.Duration(n)*time.Second))); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.StopTimer()
	s.Close()
	fi, _ := os.Stat(path)
	b.ReportMetric(float64(fi.Size())/(4<<20), "file/bound")
}
