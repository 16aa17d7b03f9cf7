package cluster

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goavail/goavail/monitor"
)

// TestRun_PacesLocalRounds: when every round takes 20 ms (a view of many
// targets) and changes come without pause, rounds take at most about half
// the time (one round, then as long without), and the last change is still
// in the final round.
func TestRun_PacesLocalRounds(t *testing.T) {
	const cost = 20 * time.Millisecond
	var mu sync.Mutex
	state := monitor.Up
	var rounds atomic.Int64
	var lastSeen atomic.Value
	a := netip.MustParseAddr("192.0.2.1")
	local := func() []monitor.Status {
		rounds.Add(1)
		time.Sleep(cost)
		mu.Lock()
		defer mu.Unlock()
		lastSeen.Store(state)
		return []monitor.Status{{Addr: a, State: state}}
	}
	c, err := New(Config{NodeName: "n", ViewInterval: time.Hour, Rules: Rules{StaleAfter: 3 * time.Hour}, Local: local, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(100 * time.Millisecond) // the first round
	before := rounds.Load()
	const hammer = time.Second
	for end := time.Now().Add(hammer); time.Now().Before(end); time.Sleep(time.Millisecond) {
		c.LocalChanged()
	}
	during := rounds.Load() - before
	mu.Lock()
	state = monitor.Down // the last change
	mu.Unlock()
	c.LocalChanged()
	deadline := time.Now().Add(10 * time.Second)
	for lastSeen.Load() != monitor.Down {
		if time.Now().After(deadline) {
			t.Fatal("the last change never made it into a round")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Unpaced, rounds ran back to back: about hammer/cost = 50, each of
	// which (deferred agreement rounds included) calls Local once or twice.
	if max := int64(hammer/(2*cost)) + 3; during > max {
		t.Errorf("%d rounds in %s of changes at %s a round, want at most %d (paced by their cost)", during, hammer, cost, max)
	}
}
