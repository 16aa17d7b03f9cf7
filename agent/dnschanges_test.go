package agent

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/goavail/goavail/dns"
)

// TestPackRemoved: a small memory travels as it is, a large one gzipped,
// and both come back byte for byte.
func TestPackRemoved(t *testing.T) {
	mem, err := dns.LoadMemory("")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2000} {
		var recs []dns.Record
		for i := 0; i < n; i++ {
			recs = append(recs, dns.Record{Name: fmt.Sprintf("h%d.example.com", i), Type: "A", Content: fmt.Sprintf("198.51.%d.%d", i/256, i%256), TTL: 300, Comment: "hand-made"})
		}
		if err := mem.Remember("example.com", recs); err != nil {
			t.Fatal(err)
		}
		b, err := mem.Export()
		if err != nil {
			t.Fatal(err)
		}
		packed, err := packRemoved(b)
		if err != nil {
			t.Fatal(err)
		}
		if gz := bytes.HasPrefix(packed, []byte(`"gzip:`)); gz != (len(b) > packThreshold) || (gz && len(packed) > len(b)/4) {
			t.Errorf("%d records: %d bytes packed to %d (gzip %v)", n, len(b), len(packed), gz)
		}
		// It rides inside the annex, which must stay valid.
		enc, err := annex{Removed: packed}.encode()
		if err != nil {
			t.Fatal(err)
		}
		a, err := decodeAnnex(enc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := unpackRemoved(a.Removed)
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%d records: round trip: %v", n, err)
		}
	}
}

// FuzzUnpackRemoved feeds arbitrary annex parts to unpackRemoved: it
// never panics and never returns more than maxUnpacked bytes.
func FuzzUnpackRemoved(f *testing.F) {
	f.Add([]byte(`{"version":1,"records":[]}`))
	f.Add([]byte(`"gzip:H4sIAAAAAAAA/6quzEvMTVWyUlAqzSvJTM5RqAUAAAD//w=="`))
	f.Add([]byte(`"plain"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := unpackRemoved(b)
		if err == nil && len(out) > maxUnpacked {
			t.Fatalf("%d bytes unpacked", len(out))
		}
	})
}
