package dns

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// nameserver serves A answers on loopback: answer[name] for a name it
// knows, SERVFAIL for the names in fail, and silence for those in drop.
func nameserver(t *testing.T, answer map[string]string, fail, drop []string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		name := strings.TrimSuffix(r.Question[0].Name, ".")
		for _, d := range drop {
			if d == name {
				return
			}
		}
		m := new(mdns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		for _, f := range fail {
			if f == name {
				m.Rcode = mdns.RcodeServerFailure
			}
		}
		if a, ok := answer[name]; ok && m.Rcode == mdns.RcodeSuccess {
			rr, _ := mdns.NewRR(name + ". 60 IN A " + a)
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// TestPropagation_OneFailingNameSpoilsOnlyItself: in one zone, a name whose
// nameserver answers SERVFAIL and a name it never answers leave the other
// names' changes verified in the same round, each failing change with its
// own error.
func TestPropagation_OneFailingNameSpoilsOnlyItself(t *testing.T) {
	ns := nameserver(t, map[string]string{"a.example.com": "192.0.2.1", "b.example.com": "192.0.2.2", "c.example.com": "192.0.2.3"},
		[]string{"bad.example.com"}, []string{"slow.example.com"})
	pc := NewPropagationChecker(PropagationConfig{
		NameServers: func(context.Context, string) ([]string, error) { return []string{ns}, nil },
		Bound:       time.Hour, Log: discard(),
	})
	var creates []Record
	for _, n := range []string{"a", "bad", "b", "slow", "c"} {
		content := map[string]string{"a": "192.0.2.1", "b": "192.0.2.2", "c": "192.0.2.3"}[n]
		if content == "" {
			content = "192.0.2.9"
		}
		creates = append(creates, Record{Name: n + ".example.com", Type: "A", Content: content})
	}
	pc.Applied("example.com", creates, nil, time.Now())
	pc.round(context.Background())
	recent, waiting := pc.Recent()
	if len(recent) != 3 {
		t.Errorf("%d changes verified in the round, want the 3 whose names answer: %+v", len(recent), recent)
	}
	errs := map[string]string{}
	for _, w := range waiting {
		errs[w.Record.Name] = w.Err
	}
	if len(waiting) != 2 || !strings.Contains(errs["bad.example.com"], "SERVFAIL") || !strings.Contains(errs["slow.example.com"], "slow.example.com") ||
		strings.Contains(errs["slow.example.com"], "SERVFAIL") {
		t.Errorf("waiting %d, errors %q: want bad with its SERVFAIL and slow with its own timeout", len(waiting), errs)
	}
}

// TestPropagation_ProxiedRecordsAreNotChecked: a proxied restore and a
// proxied removal are not queued (the nameservers answer with Cloudflare's
// edge addresses, so the restore would never be seen and the removal would
// be "seen" at once); they are counted, and an unproxied change in the
// same batch is checked.
func TestPropagation_ProxiedRecordsAreNotChecked(t *testing.T) {
	ns := nameserver(t, map[string]string{"www.example.com": "192.0.2.1", "cdn.example.com": "104.16.0.1"}, nil, nil)
	pc := NewPropagationChecker(PropagationConfig{
		NameServers: func(context.Context, string) ([]string, error) { return []string{ns}, nil },
		Bound:       time.Hour, Log: discard(),
	})
	pc.Applied("example.com",
		[]Record{{Name: "www.example.com", Type: "A", Content: "192.0.2.1"}, {Name: "cdn.example.com", Type: "A", Content: "192.0.2.7", Proxied: true}},
		[]Record{{Name: "cdn.example.com", Type: "A", Content: "192.0.2.8", Proxied: true}}, time.Now())
	pc.round(context.Background())
	recent, waiting := pc.Recent()
	if len(recent) != 1 || recent[0].Record.Name != "www.example.com" || len(waiting) != 0 {
		t.Errorf("verified %+v, waiting %+v: want only the unproxied restore, verified", recent, waiting)
	}
	if n := pc.SkippedProxied(); n != 2 {
		t.Errorf("%d proxied changes counted as not checked, want 2", n)
	}
}

// TestPropagation_NoZoneLookUpDuringARetryAfterHold: while the API is on a
// Retry-After hold the checker does not ask for the zone's nameservers
// (which may cost a zone look-up): it uses those it looked up before the
// hold, or, never having looked them up, waits with an error that says so.
func TestPropagation_NoZoneLookUpDuringARetryAfterHold(t *testing.T) {
	ns := nameserver(t, map[string]string{"www.example.com": "192.0.2.1", "api.example.com": "192.0.2.1"}, nil, nil)
	lookups := 0
	held := true
	pc := NewPropagationChecker(PropagationConfig{
		NameServers: func(context.Context, string) ([]string, error) { lookups++; return []string{ns}, nil },
		APIHeld:     func() bool { return held },
		Bound:       time.Hour, Log: discard(),
	})
	pc.Applied("example.com", []Record{{Name: "www.example.com", Type: "A", Content: "192.0.2.1"}}, nil, time.Now())
	pc.round(context.Background())
	if _, waiting := pc.Recent(); lookups != 0 || len(waiting) != 1 || !strings.Contains(waiting[0].Err, "on hold") {
		t.Fatalf("during the hold: %d look-ups, waiting %+v; want none, and the change waiting with the reason", lookups, waiting)
	}
	held = false
	pc.round(context.Background())
	if recent, _ := pc.Recent(); lookups != 1 || len(recent) != 1 {
		t.Fatalf("after the hold: %d look-ups, verified %d; want 1 and the change verified", lookups, len(recent))
	}
	held = true
	pc.Applied("example.com", []Record{{Name: "api.example.com", Type: "A", Content: "192.0.2.1"}}, nil, time.Now())
	pc.round(context.Background())
	if recent, _ := pc.Recent(); lookups != 1 || len(recent) != 2 {
		t.Errorf("in a second hold: %d look-ups, verified %d; want still 1 (the nameservers known) and the change verified", lookups, len(recent))
	}
}

// TestReconciler_RateLimitedDuringTheHoldOnly: RateLimited is true from a
// 429 until its hold ends, and not after a transient failure.
func TestReconciler_RateLimitedDuringTheHoldOnly(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := NewReconciler(ReconcilerConfig{Provider: &memProvider{}, Health: func() Health { return nil }, Log: discard(), Now: func() time.Time { return now }})
	r.SetGroups([]Group{small}, time.Minute)
	r.backoff(errors.New("502"))
	if r.RateLimited() {
		t.Error("rate limited after a 502")
	}
	r.backoff(&RetryAfterError{Wait: 3 * time.Second})
	if !r.RateLimited() {
		t.Error("not rate limited right after a 429")
	}
	now = now.Add(3 * time.Second)
	if r.RateLimited() {
		t.Error("still rate limited when the Retry-After has passed")
	}
}
