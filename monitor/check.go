package monitor

import (
	"context"
	"crypto/x509"
	"net/netip"
	"regexp"
	"time"
)

// The kinds of check. ICMP runs on the Engine; the others on a Checker.
const (
	KindICMP  = "icmp"
	KindTCP   = "tcp"
	KindHTTP  = "http"
	KindHTTPS = "https"
)

// Check is one health check as it applies to an address: what to probe,
// how often, and the fall and rise counts of its own state machine.
type Check struct {
	Kind       string // KindICMP, KindTCP, KindHTTP or KindHTTPS
	Key        string // identity on an address, e.g. "icmp", "tcp:443", "https:443/healthz"
	Port       int
	Interval   time.Duration // between two probes of one address
	Timeout    time.Duration // bound on one probe; at most Interval
	Thresholds Thresholds
	HTTP       HTTPOptions // http and https only
}

// HTTPOptions are the settings of an http or https check.
type HTTPOptions struct {
	Path, Method string
	Host         string // Host header and TLS server name
	Headers      map[string]string
	// StatusCodes are the inclusive ranges of status codes that count as up.
	StatusCodes      [][2]int
	BodyMustMatch    []*regexp.Regexp // every one must match the first 64 KiB
	BodyMustNotMatch []*regexp.Regexp // none may match
	FollowRedirects  bool
	TLSVerify        bool           // check the chain and the name
	MinDaysLeft      float64        // a certificate expiring sooner is down; 0 off
	RootCAs          *x509.CertPool // nil: the system roots
}

// Outcome is what one probe of a check found. Reason says why it failed
// in words an operator can act on; Warning is set on a probe that passed
// but is close to failing (a certificate near tls_min_days_left).
type Outcome struct {
	OK      bool
	Took    time.Duration
	Reason  string
	Warning string
}

// Prober probes one address once. ctx carries the check's timeout; Probe
// returns when it is done or ctx is, never later.
type Prober interface {
	Probe(ctx context.Context, addr netip.Addr) Outcome
}

// NewProber returns the prober for a non-ICMP check: one file per kind
// (tcp.go, http.go), as blackbox_exporter's prober/ does.
func NewProber(c *Check) Prober {
	switch c.Kind {
	case KindTCP:
		return tcpProber{port: uint16(c.Port), timeout: c.Timeout}
	case KindHTTP, KindHTTPS:
		return newHTTPProber(c)
	}
	return nil
}

// Match is how an address's checks combine into its state.
type Match uint8

const (
	// MatchAll: the address is up when every check is up, down as soon as
	// one is down.
	MatchAll Match = iota
	// MatchAny: the address is up when one check is up, down when all are.
	MatchAny
)

// Combine is the rule that turns the states of an address's checks into
// the address's state. Under MatchAll one down check makes it down and all
// up make it up; under MatchAny one up check makes it up and all down make
// it down. Anything else is Unknown: an address is never acted on before
// its checks have decided.
func Combine(states []State, m Match) State {
	if len(states) == 0 {
		return Unknown
	}
	decisive, rest := Down, Up // MatchAll: one down decides
	if m == MatchAny {
		decisive, rest = Up, Down
	}
	all := true
	for _, s := range states {
		if s == decisive {
			return decisive
		}
		if s != rest {
			all = false
		}
	}
	if all {
		return rest
	}
	return Unknown
}
