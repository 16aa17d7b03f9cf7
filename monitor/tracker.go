package monitor

import (
	"net/netip"
	"sync"
	"time"
)

// Status is a snapshot of one address.
type Status struct {
	Addr     netip.Addr `json:"addr"`
	State    State      `json:"state"`
	Since    time.Time  `json:"since"`
	Evidence Evidence   `json:"evidence"`
}

// Tracker runs one Machine per watched address. It is safe for concurrent
// use: the engine's goroutines feed it while the DNS side reads snapshots.
type Tracker struct {
	mu       sync.Mutex
	th       Thresholds
	machines map[netip.Addr]*Machine
	notify   func(Transition)
}

// NewTracker returns a Tracker for addrs. notify is called, outside the
// tracker's lock, for every transition; it must not block.
func NewTracker(addrs []netip.Addr, th Thresholds, notify func(Transition)) *Tracker {
	t := &Tracker{notify: notify}
	t.SetTargets(addrs, th)
	return t
}

// SetTargets replaces the watched set and thresholds. Addresses that stay
// keep their state and evidence; new ones start Unknown; dropped ones are
// forgotten.
func (t *Tracker) SetTargets(addrs []netip.Addr, th Thresholds) {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := make(map[netip.Addr]*Machine, len(addrs))
	for _, a := range addrs {
		if m, ok := t.machines[a]; ok {
			next[a] = m
		} else {
			next[a] = &Machine{}
		}
	}
	t.machines, t.th = next, th
}

// Observe feeds one probe result to its address's machine. Results for
// addresses no longer watched are ignored.
func (t *Tracker) Observe(r Result) {
	t.mu.Lock()
	m, ok := t.machines[r.Addr]
	var tr Transition
	var changed bool
	if ok {
		tr, changed = m.Observe(r, t.th)
	}
	t.mu.Unlock()
	if changed && t.notify != nil {
		t.notify(tr)
	}
}

// Len is the number of watched addresses.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.machines)
}

// Counts returns how many watched addresses are in each state.
func (t *Tracker) Counts() map[State]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[State]int{Up: 0, Down: 0, Unknown: 0}
	for _, m := range t.machines {
		out[m.state]++
	}
	return out
}

// States returns the current state of every watched address.
func (t *Tracker) States() map[netip.Addr]State {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[netip.Addr]State, len(t.machines))
	for a, m := range t.machines {
		out[a] = m.state
	}
	return out
}

// Snapshot returns the status of every watched address.
func (t *Tracker) Snapshot() []Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Status, 0, len(t.machines))
	rtts := make([]time.Duration, 0, evidenceRTTs*len(t.machines))
	for a, m := range t.machines {
		var e Evidence
		e, rtts = m.evidenceIn(rtts)
		out = append(out, Status{Addr: a, State: m.state, Since: m.since, Evidence: e})
	}
	return out
}
