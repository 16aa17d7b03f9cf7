package main

import (
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
)

// TestRenderDNS_Golden renders the quarantine and propagation part of
// goavail status and compares it with testdata/status_dns.golden
// (-args -update rewrites it).
func TestRenderDNS_Golden(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	rec := func(name, content string) dns.Record { return dns.Record{Name: name, Type: "A", Content: content} }
	d := &dnsStatus{
		Quarantined: []dns.Quarantined{{Zone: "example.com", Action: dns.ActionCreate, Record: rec("cdn.example.com", "192.0.2.10"), Code: 81053,
			Message: "An A, AAAA, or CNAME record with that host already exists.", Since: at, NextTry: at.Add(dns.QuarantineRetry)}},
		Unverified: []dns.Propagation{{Zone: "example.com", Action: dns.ActionCreate, Record: rec("www.example.com", "192.0.2.11"), AppliedAt: at, Late: true}},
		Propagation: []dns.Propagation{{Zone: "example.com", Action: dns.ActionDelete, Record: rec("www.example.com", "198.51.100.20"), AppliedAt: at,
			SeenAt: at.Add(1200 * time.Millisecond), Propagation: 1200 * time.Millisecond, OutageToDNS: 2500 * time.Millisecond, NameServers: []string{"192.0.2.53:53"}}},
	}
	var got bytes.Buffer
	renderDNS(&got, d)
	const golden = "testdata/status_dns.golden"
	if *update {
		os.WriteFile(golden, got.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("differs from %s:\n--- got\n%s--- want\n%s", golden, got.String(), want)
	}
}

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
