package notify

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var ev = Event{Kind: KindTransition, At: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), Node: "fra-1",
	Address: "192.0.2.10", From: "up", To: "down", Evidence: "rtts=[] loss=3/10"}

func TestHook_RunsWithEventEnvironment(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env")
	h := Hook{Command: []string{"/bin/sh", "-c", `env | grep '^GOAVAIL_' | sort > "$0"`, out}, Timeout: 5 * time.Second}
	if err := h.Deliver(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GOAVAIL_EVENT=transition", "GOAVAIL_NODE=fra-1", "GOAVAIL_ADDRESS=192.0.2.10", "GOAVAIL_FROM=up",
		"GOAVAIL_TO=down", "GOAVAIL_TIME=2026-11-24T10:00:00Z", "GOAVAIL_EVIDENCE=rtts=[] loss=3/10", "GOAVAIL_SUMMARY=goavail fra-1: 192.0.2.10 went down"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("hook environment lacks %q:\n%s", want, b)
		}
	}
}

func TestHook_KilledAfterTimeout(t *testing.T) {
	h := Hook{Command: []string{"/bin/sleep", "30"}, Timeout: 100 * time.Millisecond}
	start := time.Now()
	err := h.Deliver(context.Background(), ev)
	if err == nil || !strings.Contains(err.Error(), "killed after 100ms") {
		t.Fatalf("Deliver = %v, want a timeout", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("the hook was not killed: Deliver took %s", time.Since(start))
	}
	if err := (Hook{Command: []string{"/bin/false"}, Timeout: time.Second}).Deliver(context.Background(), ev); err == nil {
		t.Error("a failing hook reported success")
	}
}

// receiver is a webhook endpoint that fails the first n requests with status.
type receiver struct {
	mu     sync.Mutex
	fail   int
	status int
	bodies []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, string(b))
	if len(r.bodies) <= r.fail {
		w.WriteHeader(r.status)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func TestWebhook_RetriedAfter500(t *testing.T) {
	rcv := &receiver{fail: 2, status: http.StatusInternalServerError}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	w := Webhook{URL: srv.URL + "/hooks/s3cr3t", Format: FormatJSON, Timeout: time.Second, MaxRetries: 3, MinBackoff: 10 * time.Millisecond}
	if err := w.Deliver(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if len(rcv.bodies) != 3 {
		t.Fatalf("%d attempts, want 3 (two 500s, then accepted)", len(rcv.bodies))
	}
	var got Event
	if err := json.Unmarshal([]byte(rcv.bodies[2]), &got); err != nil || got.Kind != KindTransition || got.Address != "192.0.2.10" || got.To != "down" {
		t.Errorf("body %s: %v", rcv.bodies[2], err)
	}
}

func TestWebhook_SlackBodyAndFinalFailures(t *testing.T) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	w := Webhook{URL: srv.URL + "/services/T000/B000/s3cr3t", Format: FormatSlack, Timeout: time.Second, MaxRetries: 2, MinBackoff: 10 * time.Millisecond}
	if err := w.Deliver(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	var slack map[string]string
	if json.Unmarshal([]byte(rcv.bodies[0]), &slack); !strings.HasPrefix(slack["text"], "goavail fra-1: 192.0.2.10 went down") {
		t.Errorf("slack body = %s", rcv.bodies[0])
	}

	bad := &receiver{fail: 100, status: http.StatusBadRequest}
	srv2 := httptest.NewServer(bad)
	defer srv2.Close()
	w.URL = srv2.URL + "/services/s3cr3t"
	if err := w.Deliver(context.Background(), ev); err == nil || len(bad.bodies) != 1 {
		t.Errorf("a 400 was retried or accepted: %v after %d attempts", err, len(bad.bodies))
	}
	srv.Close() // unreachable: retried, then given up, and the secret path is never in the error
	w.URL = srv.URL + "/services/s3cr3t"
	var attempts, waits int
	w.Client = &http.Client{Transport: countingTransport{n: &attempts, next: http.DefaultTransport}}
	w.Wait = func(context.Context, time.Duration) error { waits++; return nil }
	err := w.Deliver(context.Background(), ev)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "gave up") {
		t.Errorf("Deliver to a closed server = %v", err)
	}
	if attempts != 3 || waits != 2 {
		t.Errorf("unreachable with retries = 2: %d attempts and %d waits, want 3 and 2", attempts, waits)
	}
}

// countingTransport counts the requests it passes on.
type countingTransport struct {
	n    *int
	next http.RoundTripper
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	*c.n++
	return c.next.RoundTrip(r)
}

// TestWebhook_HonoursRetryAfter: a 429 or 503 with Retry-After waits exactly
// that long (no backoff, no jitter) before the next attempt; without the
// header the wait is the jittered backoff, within its bounds.
func TestWebhook_HonoursRetryAfter(t *testing.T) {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		n++
		switch n {
		case 1:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusServiceUnavailable)
		case 3:
			w.WriteHeader(http.StatusBadGateway) // no header: backoff
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	var waits []time.Duration
	w := Webhook{URL: srv.URL, Format: FormatJSON, Timeout: time.Second, MaxRetries: 5, MinBackoff: time.Second, MaxBackoff: 30 * time.Second,
		Wait: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	if err := w.Deliver(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if n != 4 || len(waits) != 3 {
		t.Fatalf("%d attempts, %d waits (%v); want 4 and 3", n, len(waits), waits)
	}
	if waits[0] != 7*time.Second || waits[1] != 120*time.Second {
		t.Errorf("waits after Retry-After 7 and 120 = %v, %v", waits[0], waits[1])
	}
	// third attempt (index 2): backoff 1s<<2 = 4s, minus up to a quarter of jitter
	if waits[2] < 3*time.Second || waits[2] > 4*time.Second {
		t.Errorf("backoff wait = %v, want 3s to 4s", waits[2])
	}
}

// TestWebhook_CancelStopsWaiting: a stop during a Retry-After wait returns
// at once with the context's error.
func TestWebhook_CancelStopsWaiting(t *testing.T) {
	answered := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
		answered <- struct{}{}
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Webhook{URL: srv.URL, Format: FormatJSON, Timeout: time.Second, MaxRetries: 3}.Deliver(ctx, ev)
	}()
	<-answered // the first attempt got its Retry-After: Deliver now waits an hour
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Deliver after cancel = %v, want context.Canceled", err)
	}
}

// TestDrainEvent_SummaryAndEnv: a drain event names the address, who and why.
func TestDrainEvent_SummaryAndEnv(t *testing.T) {
	e := Event{Kind: KindDrain, Node: "fra-1", Address: "192.0.2.10", Action: "drain", By: "alice@ops", Reason: "kernel upgrade"}
	if got, want := e.Summary(), "goavail fra-1: 192.0.2.10 drained by alice@ops: kernel upgrade"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	env := strings.Join(Env(e), "\n")
	for _, want := range []string{"GOAVAIL_EVENT=drain", "GOAVAIL_ACTION=drain", "GOAVAIL_BY=alice@ops", "GOAVAIL_REASON=kernel upgrade"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s", want)
		}
	}
}

// TestTierEvent_SummaryAndEnv: a tier event names the hostname, the type,
// both tiers and the evidence.
func TestTierEvent_SummaryAndEnv(t *testing.T) {
	e := Event{Kind: KindTier, Node: "fra-1", Zone: "example.com", Name: "www.example.com", Type: "A", From: "primary", To: "backup",
		Evidence: "0 of 2 primaries up (min_primary_up 1), 1 of 1 backups up", Mode: "applied"}
	if got, want := e.Summary(), "goavail fra-1: www.example.com A in example.com is served by the backup tier (was primary): 0 of 2 primaries up (min_primary_up 1), 1 of 1 backups up (applied)"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	env := strings.Join(Env(e), "\n")
	for _, want := range []string{"GOAVAIL_EVENT=tier", "GOAVAIL_FROM=primary", "GOAVAIL_TO=backup", "GOAVAIL_NAME=www.example.com", "GOAVAIL_RECORD_TYPE=A"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s", want)
		}
	}
}

// stuck is a sink that never finishes.
type stuck struct{}

func (stuck) Name() string                               { return "stuck" }
func (stuck) Wants(string) bool                          { return true }
func (stuck) Deliver(ctx context.Context, _ Event) error { <-ctx.Done(); return ctx.Err() }

func TestNotifier_NeverBlocks(t *testing.T) {
	n := New(slog.New(slog.DiscardHandler), stuck{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- n.Run(ctx) }()
	for i := 0; i < 1000; i++ {
		n.Notify(ev) // the sink is stuck: these must queue or drop, never wait
	}
	if d := n.Dropped(); d < 1000-queueSize-1 {
		t.Errorf("dropped %d of 1000 with a queue of %d", d, queueSize)
	}
	cancel()
	<-done
}

func TestSink_Kinds(t *testing.T) {
	h := Hook{Command: []string{"/bin/true"}, Kinds: []string{KindDNSChange}}
	if h.Wants(KindTransition) || !h.Wants(KindDNSChange) || !(Hook{Command: []string{"x"}}).Wants(KindAgreed) {
		t.Error("kind filter wrong")
	}
}
