package history

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kind says what an Event is about.
type Kind string

// Event kinds.
const (
	KindTransition Kind = "transition" // this agent's view of an address changed
	KindAgreed     Kind = "agreed"     // the agreed state (what DNS follows) changed
	KindWriter     Kind = "writer"     // the writer or its lease term changed
	KindDNS        Kind = "dns"        // a DNS change planned, applied, failed, quarantined, refused or verified
	KindDrain      Kind = "drain"      // an address drained or undrained
	KindReload     Kind = "reload"     // the config was reloaded, or a reload refused
	KindStart      Kind = "start"      // the agent started
	KindStop       Kind = "stop"       // the agent stopped
	KindTier       Kind = "tier"       // the tier serving a hostname's records of one type changed
	KindPause      Kind = "pause"      // the agent was paused (stopped, frozen or starved of CPU)
)

// DNS event modes (Event.Mode of a KindDNS event).
const (
	ModeApplied      = "applied"       // made by this agent
	ModeDryRun       = "dry_run"       // planned, dry-run
	ModeStandby      = "standby"       // planned by a standby; the writer (Event.Writer) makes it
	ModeByWriter     = "by_writer"     // a standby's planned change no longer needed: the writer (Event.Writer) made it
	ModeFailed       = "failed"        // the API failed; retried
	ModeQuarantined  = "quarantined"   // the provider refuses it for what it is; retried slowly
	ModeFenceRefused = "fence_refused" // the zone's fence moved: listed and planned again
	ModeVerified     = "verified"      // every nameserver of the zone answers with it
	ModeLate         = "late"          // not seen on the nameservers within the bound
)

// Event is one thing an agent saw or did. Only the fields that matter to
// its Kind are set.
type Event struct {
	At   time.Time `json:"at"`
	Kind Kind      `json:"kind"`
	Node string    `json:"node"` // the agent that recorded it

	// Address is the address concerned; Hostnames the hostnames it
	// serves (from the config when recorded), or a DNS change's name.
	Address   string   `json:"address,omitempty"`
	Hostnames []string `json:"hostnames,omitempty"`

	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`

	// The evidence of a transition: the latest round-trip times (ms), the
	// probes lost of those in the window, and the check's reason.
	RTTsMS []float64 `json:"rtts_ms,omitempty"`
	Lost   int       `json:"lost,omitempty"`
	Probes int       `json:"probes,omitempty"`
	Reason string    `json:"reason,omitempty"`

	// Voters are the agents whose views made an agreement decision.
	Voters []string `json:"voters,omitempty"`
	// Writer is the cluster's writer as this agent knew it, Term its
	// lease term.
	Writer string `json:"writer,omitempty"`
	Term   uint64 `json:"term,omitempty"`

	// A DNS change.
	Zone    string `json:"zone,omitempty"`
	Name    string `json:"name,omitempty"`
	Type    string `json:"type,omitempty"`
	Content string `json:"content,omitempty"`
	Action  string `json:"action,omitempty"` // create or delete; drain or undrain
	Mode    string `json:"mode,omitempty"`
	// PropagationMS is the time from the API applying a change to every
	// nameserver answering with it; OutageToDNSMS from the first lost
	// probe of the address to then.
	PropagationMS float64 `json:"propagation_ms,omitempty"`
	OutageToDNSMS float64 `json:"outage_to_dns_ms,omitempty"`

	By     string `json:"by,omitempty"` // who drained
	Detail string `json:"detail,omitempty"`
}

// Filter selects events. Zero fields select everything.
type Filter struct {
	Since    time.Time // at or after
	Address  string
	Hostname string // an address serving it, or a DNS change of it
	// Limit keeps the newest Limit events (0: DefaultLimit).
	Limit int
}

// DefaultLimit bounds what one query returns.
const DefaultLimit = 10000

// Match reports whether e passes f (Since and Limit aside).
func (f Filter) Match(e Event) bool {
	if f.Address != "" && e.Address != f.Address && e.Content != f.Address {
		return false
	}
	if h := strings.TrimSuffix(strings.ToLower(f.Hostname), "."); h != "" && e.Name != h && !slices.Contains(e.Hostnames, h) {
		return false
	}
	return true
}

func (f Filter) limit() int {
	if f.Limit <= 0 {
		return DefaultLimit
	}
	return f.Limit
}

// Line is the event in one line of text, for goavail history.
func (e Event) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %-10s", e.At.UTC().Format("2006-01-02T15:04:05.000Z"), e.Node, e.Kind)
	switch e.Kind {
	case KindTransition, KindAgreed:
		fmt.Fprintf(&b, " %s %s -> %s", e.Address, e.From, e.To)
		if len(e.Hostnames) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(e.Hostnames, " "))
		}
		if e.Probes > 0 {
			fmt.Fprintf(&b, " lost %d/%d", e.Lost, e.Probes)
		}
		if len(e.RTTsMS) > 0 {
			fmt.Fprintf(&b, " rtt %.1fms", e.RTTsMS[len(e.RTTsMS)-1])
		}
		if len(e.Voters) > 0 {
			fmt.Fprintf(&b, " agreed by %s", strings.Join(e.Voters, ","))
		}
	case KindWriter:
		w := e.Writer
		if w == "" {
			w = "none"
		}
		fmt.Fprintf(&b, " writer %s", w)
		if e.Term > 0 {
			fmt.Fprintf(&b, " term %d", e.Term)
		}
	case KindDNS:
		fmt.Fprintf(&b, " %s %s %s %s %s in %s", e.Mode, e.Action, e.Name, e.Type, e.Content, e.Zone)
		if (e.Mode == ModeStandby || e.Mode == ModeByWriter) && e.Writer != "" {
			fmt.Fprintf(&b, " (writer %s)", e.Writer)
		}
		if e.PropagationMS > 0 {
			fmt.Fprintf(&b, " propagation %s", ms(e.PropagationMS))
		}
		if e.OutageToDNSMS > 0 {
			fmt.Fprintf(&b, " outage-to-dns %s", ms(e.OutageToDNSMS))
		}
	case KindDrain:
		fmt.Fprintf(&b, " %s %s by %s", e.Action, e.Address, e.By)
	case KindTier:
		fmt.Fprintf(&b, " %s %s %s -> %s in %s", e.Name, e.Type, e.From, e.To, e.Zone)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, " [%s]", e.Detail)
	}
	return b.String()
}

func ms(v float64) string {
	return time.Duration(v * float64(time.Millisecond)).Round(time.Millisecond).String()
}
