package rfc2136

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/namedlab"
)

// TestReconciler_MassEvent is the mass event against named: 100
// addresses × 50 hostnames in one zone (5000 A records), half the
// addresses go down; one pass removes their 2500 records. It counts the
// requests (one query per hostname and type, the fence, the UPDATEs) and
// checks the zone afterwards.
func TestReconciler_MassEvent(t *testing.T) {
	const hosts, addrs = 50, 100
	var seedRecs []string
	var names []string
	var all []netip.Addr
	for a := range addrs {
		all = append(all, netip.AddrFrom4([4]byte{10, 0, byte(a / 250), byte(a%250 + 1)}))
	}
	for h := range hosts {
		names = append(names, fmt.Sprintf("h%d.example.com", h))
		for _, a := range all {
			seedRecs = append(seedRecs, fmt.Sprintf("h%d 300 IN A %s", h, a))
		}
	}
	s := namedlab.Start(t, zone, seedRecs...)
	var mu sync.Mutex
	count := map[string]int{}
	p, err := New(Options{Server: s.Addr, KeyName: namedlab.KeyName, Secret: s.Secret, FenceLabel: "_goavail", Timeout: 10 * time.Second,
		Names: func(string) []string { return names },
		Observe: func(op string, err error, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			count[op]++
			if err != nil {
				count[op+" failed"]++
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	health := dns.Health{}
	for i, a := range all {
		health[a] = i%2 == 0
	}
	var logs bytes.Buffer
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: p, Health: func() dns.Health { return health }, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	r.SetGroups([]dns.Group{{Zone: zone, Hostnames: names, Addrs: all, TTL: 300}}, time.Minute)
	start := time.Now()
	rep := r.Pass(context.Background())
	took := time.Since(start)
	if rep.Err != nil {
		t.Fatalf("pass: %v\n%s", rep.Err, logs.String())
	}
	if n := len(rep.Plans[0].Deletes); n != hosts*addrs/2 {
		t.Fatalf("%d deletes planned, want %d", n, hosts*addrs/2)
	}
	for _, h := range []string{"h0.example.com", "h49.example.com"} {
		if got := len(s.Lookup(t, h, "A")); got != addrs/2 {
			t.Fatalf("%s has %d A records after the pass, want %d", h, got, addrs/2)
		}
	}
	// One query per hostname and type (A only: every address is IPv4) and
	// one for the fence; UPDATEs of at most 1000 changes (BatchSize), each
	// within a DNS message.
	if count["list"] != hosts+1 || count["batch"] != 3 || count["list failed"]+count["batch failed"] != 0 {
		t.Errorf("requests %v, want %d queries and 3 UPDATEs, none failed", count, hosts+1)
	}
	t.Logf("FIGURE mass event (100 addresses x 50 hostnames, half down, rfc2136 against named): %d queries, %d UPDATEs, pass %s",
		count["list"], count["batch"], took.Round(time.Millisecond))
}
