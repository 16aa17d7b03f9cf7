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
	err := w.Deliver(context.Background(), ev)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("Deliver to a closed server = %v", err)
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
