package cluster

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestNew_RefusesALeaseTooShortToWrite: with view_interval 100ms, a
// view_stale_after of 400ms (twice the interval, once accepted) sets a
// lease that lasts 200ms past the echoed view's send time while Fence
// wants 200ms left: a healthy quorate cluster would never write. New
// refuses it and names the minimum; at that minimum, the cluster writes.
func TestNew_RefusesALeaseTooShortToWrite(t *testing.T) {
	if m := MinLease(100 * time.Millisecond); m != 700*time.Millisecond {
		t.Errorf("MinLease(100ms) = %s, want 700ms", m)
	}
	if m := MinLease(2 * time.Second); m < 6*time.Second+2*LeaseMargin(m) || m > 10*time.Second {
		t.Errorf("MinLease(2s) = %s: not the smallest that leaves 3 intervals and 2 margins, or above the 10s default", m)
	}
	_, err := New(Config{NodeName: "n1", BindAddr: "127.0.0.1", Peers: []string{"127.0.0.1:1"}, Keys: [][]byte{keyA}, ViewInterval: 100 * time.Millisecond,
		Rules: Rules{MinPeersAgree: 1, StaleAfter: 400 * time.Millisecond}, Log: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "at least 700ms") {
		t.Fatalf("view_stale_after 400ms with view_interval 100ms: err %v, want a refusal naming 700ms", err)
	}

	r := Rules{MinPeersAgree: 1, StaleAfter: MinLease(100 * time.Millisecond), IsolationThreshold: 0.9}
	n1, _ := startWith(t, "n1", []string{"127.0.0.1:1"}, r, fp)
	n2, _ := startWith(t, "n2", []string{n1.Addr()}, r, fp)
	n3, _ := startWith(t, "n3", []string{n1.Addr(), n2.Addr()}, r, fp)
	for _, n := range []*node{n1, n2, n3} {
		eventually(t, n.cfg.NodeName+" quorate", func() bool { return n.Decision().Quorate })
	}
	fenced := 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		for _, n := range []*node{n1, n2, n3} {
			if _, cancel, err := n.Fence(context.Background()); err == nil {
				fenced++
				cancel()
			}
		}
	}
	if fenced == 0 {
		_, w := n1.IsWriter()
		t.Fatalf("3s of a healthy quorate cluster at the minimum view_stale_after, no Fence ever passed (n1: %s)", w)
	}
}
