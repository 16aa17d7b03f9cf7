package cluster

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goavail/goavail/monitor"
)

// soloHolder returns an agent that holds the writer lease (3 s) alone on
// its own elector, with the lease clock mono (pass moves it on) and the
// logger log: a Fence test needs no network.
func soloHolder(t *testing.T, mono func() time.Time, pass func(time.Duration), log *slog.Logger) *Cluster {
	t.Helper()
	c, err := New(Config{NodeName: "n1", ViewInterval: time.Second, Mono: mono, Log: log, Local: func() []monitor.Status { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	c.elector = NewElector("n1", c.inc, 1, 3*time.Second, mono())
	pass(3 * time.Second) // the start's blackout
	c.elector.Vote(mono(), "n1")
	c.decision.Quorate = true
	if l := c.Lease(); !l.Held {
		t.Fatal("the solo agent holds no lease")
	}
	return c
}

// TestCluster_FenceEndsWithTheLeaseAfterASuspend: the fence's context
// ends when the lease does by the lease's clock (CLOCK_BOOTTIME), which
// counts through a system suspend, although the process's timer (the
// monotonic clock, stopped in a suspend) has not fired: a batch checked
// right before its send after a resume is not sent.
func TestCluster_FenceEndsWithTheLeaseAfterASuspend(t *testing.T) {
	var slept atomic.Int64 // how far the lease clock ran ahead of the monotonic one
	mono := func() time.Time { return time.Now().Add(time.Duration(slept.Load())) }
	c := soloHolder(t, mono, func(d time.Duration) { slept.Add(int64(d)) }, testLogger(t))
	fctx, cancel, err := c.Fence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if err := fctx.Err(); err != nil {
		t.Fatalf("a fresh fence has ended: %v", err)
	}
	slept.Add(int64(time.Minute))                      // suspended for a minute: the lease is long over
	vctx := context.WithValue(fctx, chainTestKey{}, 1) // as dns chains it
	if err := vctx.Err(); err == nil {
		t.Fatal("after a suspend past the lease the fence's context is still live")
	}
	select {
	case <-fctx.Done():
	default:
		t.Error("Err reports the end but Done is open")
	}
	if cause := context.Cause(fctx); !errors.Is(cause, errLeaseEndedInSuspend) {
		t.Errorf("cause %v, want the suspend", cause)
	}
}

type chainTestKey struct{}

// slowLog is a log handler whose writes take a while, as on a full disk
// or a blocked journal.
type slowLog struct {
	slog.Handler
	d time.Duration
}

func (s slowLog) Handle(context.Context, slog.Record) error {
	time.Sleep(s.d) // the slow write itself, not a wait for something
	return nil
}

func (s slowLog) Enabled(context.Context, slog.Level) bool { return true }

// TestCluster_FenceDeadlineIsNotLengthenedByASlowLog: the fence's deadline
// is the lease's end, from clock readings taken with the lease; a log
// write of 300 ms before the context is made does not move it.
func TestCluster_FenceDeadlineIsNotLengthenedByASlowLog(t *testing.T) {
	var ahead atomic.Int64
	mono := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	c := soloHolder(t, mono, func(d time.Duration) { ahead.Add(int64(d)) }, slog.New(slowLog{slog.DiscardHandler, 300 * time.Millisecond}))
	l := c.Lease()
	fctx, cancel, err := c.Fence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	dl, ok := fctx.Deadline()
	if !ok {
		t.Fatal("the fence's context has no deadline")
	}
	// The lease's end on the process's clock (mono runs ahead by "ahead").
	end := l.Until.Add(-time.Duration(ahead.Load()))
	if late := dl.Sub(end); late > 50*time.Millisecond {
		t.Errorf("the fence's deadline is %s after the lease's end", late.Round(time.Millisecond))
	}
}
