package monitor

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// AddrChecks are the checks that decide one address and how they combine.
type AddrChecks struct {
	Checks []*Check
	Match  Match
}

// CheckTransition is a change of one check's state on one address.
type CheckTransition struct {
	Check string // the check's Key
	Transition
}

// CheckStatus is a snapshot of one check on one address.
type CheckStatus struct {
	Addr     netip.Addr `json:"addr"`
	Check    string     `json:"check"`
	Kind     string     `json:"kind"`
	State    State      `json:"state"`
	Since    time.Time  `json:"since,omitzero"`
	Evidence Evidence   `json:"evidence"`
}

// Health runs one Machine per check of every address and combines their
// states into the address's state (Combine). It knows nothing
// of check kinds: results arrive keyed by the check's Key, from the ICMP
// Engine and the Checker alike. It is safe for concurrent use.
type Health struct {
	mu      sync.Mutex
	addrs   map[netip.Addr]*addrHealth
	onAddr  func(Transition)
	onCheck func(CheckTransition)
}

type addrHealth struct {
	match  Match
	checks []*checkHealth
	state  State
	since  time.Time
}

type checkHealth struct {
	c *Check
	m Machine
}

// NewHealth returns an empty Health. onAddr is called for every change of
// an address's combined state, onCheck for every change of one check's
// state; both outside the lock, both must not block, either may be nil.
func NewHealth(onAddr func(Transition), onCheck func(CheckTransition)) *Health {
	return &Health{addrs: map[netip.Addr]*addrHealth{}, onAddr: onAddr, onCheck: onCheck}
}

// SetTargets replaces the watched addresses and their checks. A check that
// stays (same address, same Key) keeps its state and evidence; new ones
// start Unknown; dropped ones are forgotten. An address whose combined
// state changes because its checks changed reports a transition at now.
func (h *Health) SetTargets(targets map[netip.Addr]AddrChecks, now time.Time) {
	var out []Transition
	h.mu.Lock()
	next := make(map[netip.Addr]*addrHealth, len(targets))
	for a, ac := range targets {
		old := h.addrs[a]
		ah := &addrHealth{match: ac.Match}
		if old != nil {
			ah.state, ah.since = old.state, old.since
		}
		for _, c := range ac.Checks {
			ch := &checkHealth{c: c}
			if old != nil {
				for _, o := range old.checks {
					if o.c.Key == c.Key {
						ch.m = o.m
					}
				}
			}
			ah.checks = append(ah.checks, ch)
		}
		if old != nil {
			if tr, ok := ah.recombine(a, now); ok {
				out = append(out, tr)
			}
		}
		next[a] = ah
	}
	h.addrs = next
	h.mu.Unlock()
	for _, tr := range out {
		if h.onAddr != nil {
			h.onAddr(tr)
		}
	}
}

// Observe feeds one probe result of the check with key to its machine.
// Results for addresses or checks no longer watched are ignored.
func (h *Health) Observe(key string, r Result) {
	h.mu.Lock()
	ah := h.addrs[r.Addr]
	if ah == nil {
		h.mu.Unlock()
		return
	}
	var ch *checkHealth
	for _, c := range ah.checks {
		if c.c.Key == key {
			ch = c
			break
		}
	}
	if ch == nil {
		h.mu.Unlock()
		return
	}
	ctr, changed := ch.m.Observe(r, ch.c.Thresholds)
	var atr Transition
	var addrChanged bool
	if changed {
		if ctr.To == Down {
			ctr.Evidence.LastError = reason(ch.c, ctr.Evidence)
		}
		atr, addrChanged = ah.recombine(r.Addr, r.At)
	}
	h.mu.Unlock()
	if changed && h.onCheck != nil {
		h.onCheck(CheckTransition{Check: key, Transition: ctr})
	}
	if addrChanged && h.onAddr != nil {
		h.onAddr(atr)
	}
}

// recombine recomputes the address's state from its checks' states.
func (ah *addrHealth) recombine(a netip.Addr, at time.Time) (Transition, bool) {
	states := make([]State, len(ah.checks))
	for i, c := range ah.checks {
		states[i] = c.m.state
	}
	to := Combine(states, ah.match)
	if to == ah.state {
		return Transition{}, false
	}
	tr := Transition{Addr: a, From: ah.state, To: to, At: at, Evidence: ah.evidence()}
	ah.state, ah.since = to, at
	return tr, true
}

// evidence is the address's evidence: the round-trip times and loss of its
// first failing check (or its first check), the run of failures that
// matters for the match rule, and why each failing check fails.
func (ah *addrHealth) evidence() Evidence {
	if len(ah.checks) == 1 { // the common case (one ICMP check): one Evidence, no copies
		c := ah.checks[0]
		ev := c.m.Evidence()
		if ev.FailRun > 0 || c.m.state == Down {
			ev.LastError = c.c.Key + ": " + reason(c.c, ev)
		} else {
			ev.LastError = ""
		}
		return ev
	}
	var out Evidence
	var reasons []string
	based := false
	failRun := -1
	for i, c := range ah.checks {
		ev := c.m.Evidence()
		failing := ev.FailRun > 0 || c.m.state == Down
		if failing {
			reasons = append(reasons, c.c.Key+": "+reason(c.c, ev))
		}
		if i == 0 || (failing && !based) {
			out, based = ev, failing
		}
		switch {
		case failRun < 0:
			failRun = ev.FailRun
		case ah.match == MatchAny:
			failRun = min(failRun, ev.FailRun)
		default:
			failRun = max(failRun, ev.FailRun)
		}
	}
	out.FailRun = max(failRun, 0)
	out.LastError = strings.Join(reasons, "; ")
	return out
}

// reason says why a check fails: its last failure's reason, or for ICMP
// (a lost echo has none) how many replies are missing.
func reason(c *Check, ev Evidence) string {
	if ev.LastError != "" {
		return ev.LastError
	}
	if ev.FailRun > 0 {
		return fmt.Sprintf("no reply to the last %d probes within %s", ev.FailRun, c.Timeout)
	}
	return fmt.Sprintf("down (lost %d of the last %d probes)", ev.Lost, ev.Probes)
}

// States returns the combined state of every watched address.
func (h *Health) States() map[netip.Addr]State {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[netip.Addr]State, len(h.addrs))
	for a, ah := range h.addrs {
		out[a] = ah.state
	}
	return out
}

// Snapshot returns every address's combined status: what views, metrics
// and DNS use. Evidence.LastError holds the reasons of the failing checks.
func (h *Health) Snapshot() []Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Status, 0, len(h.addrs))
	for a, ah := range h.addrs {
		out = append(out, Status{Addr: a, State: ah.state, Since: ah.since, Evidence: ah.evidence()})
	}
	return out
}

// Checks returns the status of every check of every address.
func (h *Health) Checks() []CheckStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []CheckStatus
	for a, ah := range h.addrs {
		for _, c := range ah.checks {
			ev := c.m.Evidence()
			if ev.FailRun > 0 || c.m.state == Down {
				ev.LastError = reason(c.c, ev)
			}
			out = append(out, CheckStatus{Addr: a, Check: c.c.Key, Kind: c.c.Kind, State: c.m.state, Since: c.m.since, Evidence: ev})
		}
	}
	return out
}

// Len is the number of watched addresses.
func (h *Health) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.addrs)
}

// Counts returns how many watched addresses are in each combined state.
func (h *Health) Counts() map[State]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[State]int{Up: 0, Down: 0, Unknown: 0}
	for _, ah := range h.addrs {
		out[ah.state]++
	}
	return out
}

// Status is a snapshot of one address.
type Status struct {
	Addr     netip.Addr `json:"addr"`
	State    State      `json:"state"`
	Since    time.Time  `json:"since"`
	Evidence Evidence   `json:"evidence"`
}

// ICMPOnly is the target set where every address has one check, ICMP echo
// with thresholds th: how the original goavail watched its addresses.
func ICMPOnly(addrs []netip.Addr, th Thresholds) map[netip.Addr]AddrChecks {
	c := &Check{Kind: KindICMP, Key: KindICMP, Thresholds: th}
	out := make(map[netip.Addr]AddrChecks, len(addrs))
	for _, a := range addrs {
		out[a] = AddrChecks{Checks: []*Check{c}, Match: MatchAll}
	}
	return out
}

// ObserveICMP feeds one ICMP echo result to its address's icmp check: the
// Engine's result callback.
func (h *Health) ObserveICMP(r Result) { h.Observe(KindICMP, r) }
