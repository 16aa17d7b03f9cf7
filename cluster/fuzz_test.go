package cluster

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/goavail/goavail/crypto"
	"github.com/goavail/goavail/monitor"
)

func sampleView() View {
	return View{Entries: []monitor.Status{
		{Addr: ipA, State: monitor.Up, Since: time.Unix(1700000000, 5), Evidence: monitor.Evidence{RTTs: []time.Duration{120 * time.Microsecond, 98 * time.Microsecond}, Probes: 64, Lost: 1}},
		{Addr: netip.MustParseAddr("2001:db8::1"), State: monitor.Down, Since: time.Unix(1700000100, 0), Evidence: monitor.Evidence{Probes: 10, Lost: 10, LastError: "no route to host"}},
		{Addr: ipC},
	}, Annex: []byte("writer memory"), Ready: true, Vote: "agent-2", Term: 7, Held: 6,
		Echoes: map[string]Echo{"agent-2": {Inc: 1700000000000000000, Seq: 42}, "agent-3": {Inc: 9, Seq: 1}}}
}

func TestView_RoundTrip(t *testing.T) {
	b, err := sampleView().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	v, err := DecodeView(b)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := v.MarshalBinary()
	if !bytes.Equal(b, again) || len(v.Entries) != 3 || v.Entries[2].Evidence.LastError != "no route to host" || v.Entries[0].Evidence.RTTs[1] != 98*time.Microsecond || string(v.Annex) != "writer memory" ||
		!v.Ready || v.Vote != "agent-2" || v.Term != 7 || v.Held != 6 || v.Echoes["agent-2"] != (Echo{1700000000000000000, 42}) || len(v.Echoes) != 2 {
		t.Errorf("round trip changed the view: %+v", v)
	}
	for i := range b { // every truncation is refused
		if _, err := DecodeView(b[:i]); !errors.Is(err, ErrView) {
			t.Errorf("truncated to %d bytes: %v", i, err)
		}
	}
	if _, err := DecodeView(append(b, 0)); !errors.Is(err, ErrView) {
		t.Errorf("trailing byte accepted: %v", err)
	}
}

// FuzzDecodeView: DecodeView never panics, and whatever it accepts
// re-encodes to the same bytes (the encoding is canonical).
func FuzzDecodeView(f *testing.F) {
	good, _ := sampleView().MarshalBinary()
	f.Add(good)
	f.Add([]byte{4, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{4, 0, 0, 0, 0, 1, 1, 'a', 1, 0, 1, 1, 'b', 1, 1})
	f.Add([]byte{4, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{4, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 'b', 1, 1, 1, 'a', 1, 1})     // echoes out of order
	f.Add([]byte{4, 7, 0, 2, 4, 10, 0, 0, 1, 4, 10, 0, 0, 2, 0, 0, 0, 0, 0, 0}) // a delta removing two addresses
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeView(b)
		if err != nil {
			if !errors.Is(err, ErrView) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		again, err := v.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted %x but re-encodes to %x (%v)", b, again, err)
		}
	})
}

// FuzzReceive hands arbitrary bytes to a cluster agent's receiver, as a
// peer (or an attacker who has the key) could: it never panics, and a
// message it does not store is counted under a reason.
func FuzzReceive(f *testing.F) {
	sealer, _ := crypto.NewSealer([][]byte{keyA})
	good, _ := sampleView().MarshalBinary()
	msg, _ := sealer.Seal(crypto.Envelope{Sender: "peer", Incarnation: 1, Seq: 1, Time: time.Now(), Fingerprint: fp, Payload: good})
	f.Add(msg)
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := New(Config{NodeName: "self", ViewInterval: time.Second, Local: func() []monitor.Status { return nil }, Log: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		c.sealer, c.guard = sealer, crypto.NewReplayGuard(time.Hour) // cluster mode without a listener
		c.cfg.Fingerprint = fp
		stored := c.receive(b)
		var drops uint64
		for _, n := range c.Dropped() {
			drops += n
		}
		if stored == (drops > 0) {
			t.Fatalf("stored=%v with %d drops counted", stored, drops)
		}
	})
}
