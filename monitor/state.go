package monitor

import (
	"fmt"
	"math/bits"
	"net/netip"
	"time"
)

// State is what goavail believes about an address.
type State uint8

// The states an address can be in. Every address starts Unknown and is never
// acted on until its probes have decided it one way or the other.
const (
	Unknown State = iota
	Up
	Down
)

func (s State) String() string {
	switch s {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "unknown"
}

// MarshalText renders the state as "up", "down" or "unknown".
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Result is the outcome of one probe.
type Result struct {
	Addr netip.Addr
	At   time.Time     // when the reply came, or when the probe was given up
	OK   bool          // an echo reply arrived within the probe timeout
	RTT  time.Duration // round-trip time when OK
	Err  string        // why the probe could not be sent, if it could not
	Seq  uint16        // the probe's ICMP sequence number
	Sent time.Time     // when the probe went out
}

// Thresholds are the fall and rise counts of the state machine.
type Thresholds struct {
	Fall int // lost probes in a row that make an address down
	Rise int // answered probes in a row that make an address up
}

// evidenceRTTs is how many recent round-trip times a Machine keeps.
const evidenceRTTs = 5

// Evidence is what a state rests on: the latest round-trip times and the
// loss over the last probes.
type Evidence struct {
	RTTs      []time.Duration `json:"rtts"`       // newest last; answered probes only
	Probes    int             `json:"probes"`     // probes in the loss window (at most 64)
	Lost      int             `json:"lost"`       // of those, how many were lost
	FailRun   int             `json:"fail_run"`   // probes lost in a row now
	LastError string          `json:"last_error"` // the last send error, if any
}

// Loss is the fraction of lost probes in the window, 0 when there are none.
func (e Evidence) Loss() float64 {
	if e.Probes == 0 {
		return 0
	}
	return float64(e.Lost) / float64(e.Probes)
}

func (e Evidence) String() string {
	if e.LastError != "" {
		return fmt.Sprintf("rtts=%v loss=%d/%d last_error=%q", e.RTTs, e.Lost, e.Probes, e.LastError)
	}
	return fmt.Sprintf("rtts=%v loss=%d/%d", e.RTTs, e.Lost, e.Probes)
}

// Transition is a change of state, with the evidence that caused it.
type Transition struct {
	Addr     netip.Addr
	From, To State
	At       time.Time
	Evidence Evidence
}

// Machine is the per-address fall/rise state machine. It is pure: it reads
// no clock and does no I/O, so tables can drive it. The zero value is an
// address in the Unknown state.
type Machine struct {
	state   State
	since   time.Time
	okRun   int    // answered probes in a row
	failRun int    // lost probes in a row
	window  uint64 // last 64 outcomes, bit set = lost, newest in bit 0
	probes  int    // outcomes in window
	rtts    [evidenceRTTs]time.Duration
	nrtt    int // RTTs recorded so far (ring index = nrtt % evidenceRTTs)
	lastErr string
}

// State returns the current state and since when it holds (zero while
// Unknown).
func (m *Machine) State() (State, time.Time) { return m.state, m.since }

// Observe feeds one probe result into the machine and reports a transition
// when the result completes a fall or rise run. Unknown becomes Up after
// th.Rise answered probes or Down after th.Fall lost ones.
func (m *Machine) Observe(r Result, th Thresholds) (Transition, bool) {
	m.window <<= 1
	if m.probes < 64 {
		m.probes++
	}
	if r.OK {
		m.okRun++
		m.failRun = 0
		m.rtts[m.nrtt%evidenceRTTs] = r.RTT
		m.nrtt++
		m.lastErr = ""
	} else {
		m.failRun++
		m.okRun = 0
		m.window |= 1
		if r.Err != "" {
			m.lastErr = r.Err
		}
	}
	to := m.state
	switch {
	case m.state != Up && m.okRun >= th.Rise:
		to = Up
	case m.state != Down && m.failRun >= th.Fall:
		to = Down
	}
	if to == m.state {
		return Transition{}, false
	}
	t := Transition{Addr: r.Addr, From: m.state, To: to, At: r.At, Evidence: m.Evidence()}
	m.state, m.since = to, r.At
	return t, true
}

// Evidence returns the recent round-trip times and the loss window.
func (m *Machine) Evidence() Evidence {
	e, _ := m.evidenceIn(nil)
	return e
}

// evidenceIn is Evidence with its RTTs appended to buf, so that a snapshot
// of many machines makes one allocation, not one per machine. It returns
// the rest of buf.
func (m *Machine) evidenceIn(buf []time.Duration) (Evidence, []time.Duration) {
	n := min(m.nrtt, evidenceRTTs)
	if cap(buf)-len(buf) < n {
		buf = make([]time.Duration, 0, n)
	}
	start := len(buf)
	for i := m.nrtt - n; i < m.nrtt; i++ {
		buf = append(buf, m.rtts[i%evidenceRTTs])
	}
	rtts := buf[start:len(buf):len(buf)]
	mask := ^uint64(0)
	if m.probes < 64 {
		mask = 1<<m.probes - 1
	}
	return Evidence{RTTs: rtts, Probes: m.probes, Lost: bits.OnesCount64(m.window & mask), FailRun: m.failRun, LastError: m.lastErr}, buf
}
