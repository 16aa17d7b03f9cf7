package notify

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Event kinds.
const (
	KindTransition = "transition" // this agent's view of an address changed
	KindAgreed     = "agreed"     // the agreed state (what DNS follows) changed
	KindDNSChange  = "dns_change" // a record was created or deleted, or would be
	KindDrain      = "drain"      // an operator drained or undrained an address
	KindTier       = "tier"       // another tier (primary, backup, fallback, fail-open) serves a hostname
)

// Kinds lists every event kind, for validation.
var Kinds = []string{KindTransition, KindAgreed, KindDNSChange, KindDrain, KindTier}

// Event is one notification. Fields that do not apply to a kind are empty.
type Event struct {
	Kind     string    `json:"kind"`
	At       time.Time `json:"at"`
	Node     string    `json:"node"`
	Address  string    `json:"address,omitempty"`
	From     string    `json:"from,omitempty"`
	To       string    `json:"to,omitempty"`
	Evidence string    `json:"evidence,omitempty"`
	Zone     string    `json:"zone,omitempty"`
	Name     string    `json:"name,omitempty"`
	Type     string    `json:"type,omitempty"`
	Content  string    `json:"content,omitempty"`
	Action   string    `json:"action,omitempty"` // create or delete; drain or undrain
	Mode     string    `json:"mode,omitempty"`   // applied, dry_run or standby
	Error    string    `json:"error,omitempty"`  // an applied change that failed
	By       string    `json:"by,omitempty"`     // who drained or undrained
	Reason   string    `json:"reason,omitempty"` // why, as they said
}

// Summary is a one-line description for chat messages.
func (e Event) Summary() string {
	switch e.Kind {
	case KindTransition:
		return fmt.Sprintf("goavail %s: %s went %s (was %s) %s", e.Node, e.Address, e.To, e.From, e.Evidence)
	case KindAgreed:
		return fmt.Sprintf("goavail %s: the cluster agrees %s is %s (was %s)", e.Node, e.Address, e.To, e.From)
	case KindDNSChange:
		verb := map[string]string{"create": "created", "delete": "deleted"}[e.Action]
		s := fmt.Sprintf("goavail %s: %s %s %s %s in %s (%s)", e.Node, verb, e.Name, e.Type, e.Content, e.Zone, e.Mode)
		if e.Error != "" {
			s += " FAILED: " + e.Error
		}
		return s
	case KindTier:
		return fmt.Sprintf("goavail %s: %s %s in %s is served by the %s tier (was %s): %s (%s)", e.Node, e.Name, e.Type, e.Zone, e.To, e.From, e.Evidence, e.Mode)
	case KindDrain:
		s := fmt.Sprintf("goavail %s: %s %sed by %s", e.Node, e.Address, e.Action, e.By)
		if e.Reason != "" {
			s += ": " + e.Reason
		}
		return s
	}
	return fmt.Sprintf("goavail %s: %s", e.Node, e.Kind)
}

// Sink delivers events of the kinds it wants. Deliver may block (it runs on
// the sink's own goroutine) and must give up when ctx ends.
type Sink interface {
	Name() string
	Wants(kind string) bool
	Deliver(ctx context.Context, e Event) error
}

// queueSize bounds each sink's backlog.
const queueSize = 256

// Notifier fans events out to sinks, each with its own queue and goroutine,
// so a slow webhook never delays a hook.
type Notifier struct {
	log     *slog.Logger
	sinks   []Sink
	queues  []chan Event
	dropped atomic.Uint64
	failed  atomic.Uint64
}

// New returns a Notifier for the sinks; call Run to deliver.
func New(log *slog.Logger, sinks ...Sink) *Notifier {
	n := &Notifier{log: log, sinks: sinks}
	for range sinks {
		n.queues = append(n.queues, make(chan Event, queueSize))
	}
	return n
}

// Notify queues e for every sink that wants it. It never blocks: a full
// queue drops the event, counts it and logs.
func (n *Notifier) Notify(e Event) {
	for i, s := range n.sinks {
		if !s.Wants(e.Kind) {
			continue
		}
		select {
		case n.queues[i] <- e:
		default:
			n.dropped.Add(1)
			n.log.Warn("notification dropped: the sink is backed up", "sink", s.Name(), "kind", e.Kind)
		}
	}
}

// Dropped and Failed count events lost to a full queue and deliveries
// that failed for good.
func (n *Notifier) Dropped() uint64 { return n.dropped.Load() }

// Failed counts deliveries that failed after every retry.
func (n *Notifier) Failed() uint64 { return n.failed.Load() }

// Run delivers until ctx ends; queued events are then abandoned.
func (n *Notifier) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i, s := range n.sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case e := <-n.queues[i]:
					if err := s.Deliver(ctx, e); err != nil && ctx.Err() == nil {
						n.failed.Add(1)
						n.log.Error("notification failed", "sink", s.Name(), "kind", e.Kind, "err", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

// wants is a Sink helper: no kinds means every kind.
func wants(kinds []string, kind string) bool { return len(kinds) == 0 || slices.Contains(kinds, kind) }
