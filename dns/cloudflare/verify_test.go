package cloudflare

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/cfemu"
)

// TestPropagation_VerifiedOnTheZonesNameservers: a removal and a restore
// made through the SDK are followed on the nameservers the zone object
// lists (the emulator's, with a 300 ms propagation delay): each is
// reported verified no sooner than the delay, the removal with its outage
// to DNS time, and a change slower than the bound is reported late, then
// verified at a later recheck.
func TestPropagation_VerifiedOnTheZonesNameservers(t *testing.T) {
	emu, cf := newEmu(t)
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60})
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.2", TTL: 60})
	emu.SetPropagationDelay(300 * time.Millisecond)
	outage := time.Now().Add(-5 * time.Second)
	var mu sync.Mutex
	var verified, late []dns.Propagation
	var logs syncBuf
	pc := dns.NewPropagationChecker(dns.PropagationConfig{
		NameServers: cf.NameServers, Bound: 3 * time.Second, Poll: 20 * time.Millisecond,
		FirstLost:  func(a netip.Addr) time.Time { return map[netip.Addr]time.Time{ip1: outage}[a] },
		OnVerified: func(p dns.Propagation) { mu.Lock(); verified = append(verified, p); mu.Unlock() },
		OnLate:     func(p dns.Propagation) { mu.Lock(); late = append(late, p); mu.Unlock() },
		Log:        slog.New(slog.NewTextHandler(&logs, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	h := &health{h: dns.Health{ip1: false, ip2: true}}
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: cf, Health: h.get, Log: discard(), Verifier: pc})
	r.SetGroups([]dns.Group{small}, time.Minute)
	passStart := time.Now()
	if rep := r.Pass(ctx); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	// The emulator's delay runs from its commit, the figure from when the
	// answer reached the client: at most the pass's length earlier.
	minProp := 300*time.Millisecond - time.Since(passStart)
	count := func() (int, int) { mu.Lock(); defer mu.Unlock(); return len(verified), len(late) }
	waitFor(t, "the removal verified", func() bool { v, _ := count(); return v == 1 })
	mu.Lock()
	v := verified[0]
	mu.Unlock()
	if v.Action != dns.ActionDelete || v.Propagation < minProp || v.Propagation > 3*time.Second ||
		v.OutageToDNS < 5*time.Second || len(v.NameServers) != 1 || v.NameServers[0] != emu.DNSAddr() {
		t.Errorf("removal: %+v; want propagation in [%s, 3s], outage to DNS >= 5s, the emulator's nameserver", v, minProp)
	}
	if !strings.Contains(logs.String(), "result=verified") || !strings.Contains(logs.String(), "outage_to_dns=") {
		t.Errorf("no verified log line with both figures:\n%s", logs.String())
	}

	// Slower than the bound: late, then verified at a recheck.
	emu.SetPropagationDelay(4 * time.Second)
	h.set(ip1, true)
	if rep := r.Pass(ctx); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	waitFor(t, "the restore reported late", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(late) > 0 && late[len(late)-1].Action == dns.ActionCreate
	})
	if !strings.Contains(logs.String(), "result=unverified") {
		t.Errorf("no late warning:\n%s", logs.String())
	}
	if _, waiting := pc.Recent(); len(waiting) != 1 || !waiting[0].Late || waiting[0].Action != dns.ActionCreate {
		t.Errorf("waiting = %+v, want the late restore", waiting)
	}
	waitFor(t, "the late restore verified at a recheck", func() bool {
		pc.Recheck()
		time.Sleep(50 * time.Millisecond)
		v, _ := count()
		return v == 2
	})
	mu.Lock()
	v = verified[1]
	mu.Unlock()
	if v.Action != dns.ActionCreate || !v.Late || v.Propagation < 3*time.Second {
		t.Errorf("restore: %+v", v)
	}
}

// syncBuf is a bytes.Buffer safe for a logger and a test at once.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
