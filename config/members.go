package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Members is the [Members] block: cluster settings. They are parsed and
// validated here; cluster mode itself lives in package cluster, and the
// keys are decoded by package crypto.
type Members struct {
	// Peers are the other agents, "host" (gossip on members_port) or
	// "host:port" (gossip on that peer's own port): every other agent,
	// since only the agents listed here vote (see cluster/electorate.go).
	// Empty: this agent runs alone. When local_addr carries a port, the
	// file is the original goavail's form, whose ports were its HTTP
	// listener: then every peer's port other than members_port is ignored
	// and members_port used, with a warning (see Warnings).
	Peers []string `toml:"peers"`
	// LocalAddr is the address peers reach this agent at; it also listens
	// there unless BindAddr says otherwise. Empty: memberlist picks one.
	// The original goavail's "IP:port" form is accepted: the port is
	// ignored, with a warning.
	LocalAddr string `toml:"local_addr"`
	// BindAddr is where this agent listens. Default: LocalAddr, or all
	// addresses. Set it to 0.0.0.0 behind NAT, with LocalAddr the public one.
	BindAddr    string `toml:"bind_addr"`
	MembersPort int    `toml:"members_port"`
	// MinPeersAgree is how many other agents must see an address in the
	// same state before DNS changes. With peers, MinPeersAgree+1 must be a
	// majority of the agents, so that only one side of a partition can
	// write, unless AllowSplitBrain is set.
	MinPeersAgree int `toml:"min_peers_agree"`
	// AllowSplitBrain accepts a min_peers_agree that lets each side of a
	// partition choose its own writer: two agents may then write DNS at
	// once and undo each other's changes.
	AllowSplitBrain bool `toml:"allow_split_brain"`
	// CryptoKey is one key or a list; the first sends, all are accepted.
	CryptoKey Keys `toml:"crypto_key"`
	// ViewInterval is how often each agent sends its view even when
	// nothing changed. Default 2s.
	ViewInterval Duration `toml:"view_interval"`
	// ViewStaleAfter is how old a peer's view may be and still count; it is
	// also the length of the writer lease. Default 5 × view_interval.
	ViewStaleAfter Duration `toml:"view_stale_after"`
	// IsolationThreshold: an agent watching 3 or more addresses that sees
	// at least this fraction of them down abstains. 0 turns it off.
	// Default 0.9.
	IsolationThreshold float64 `toml:"isolation_threshold"`

	// legacy lists the original goavail's "IP:port" values that were read
	// in its meaning, for Warnings.
	legacy []string
}

// applyDefaults fills in unset keys and reads the original goavail's
// "IP:port" addresses: local_addr keeps its IP, and, in a file whose
// local_addr carries a port (the original's form), a peer whose port is
// not members_port is dialled on members_port. Without a port on
// local_addr, a peer's port is its gossip port: agents on one machine (a
// test cluster) each gossip on their own members_port.
func (m *Members) applyDefaults(md toml.MetaData) {
	if !md.IsDefined("Members", "members_port") {
		m.MembersPort = DefaultMembersPort
	}
	if !md.IsDefined("Members", "view_interval") {
		m.ViewInterval = Duration(DefaultViewInterval)
	}
	if !md.IsDefined("Members", "view_stale_after") {
		m.ViewStaleAfter = max(5*m.ViewInterval, Duration(minLease(m.ViewInterval.D())))
	}
	if !md.IsDefined("Members", "isolation_threshold") {
		m.IsolationThreshold = DefaultIsolation
	}
	original := false
	if ap, err := netip.ParseAddrPort(m.LocalAddr); err == nil {
		m.legacy = append(m.legacy, "local_addr = "+strconv.Quote(m.LocalAddr))
		m.LocalAddr = ap.Addr().String()
		original = true
	}
	for i, p := range m.Peers {
		if !original {
			break
		}
		host, port, err := net.SplitHostPort(p)
		if err != nil || port == strconv.Itoa(m.MembersPort) {
			continue
		}
		if _, perr := strconv.Atoi(port); perr != nil {
			continue // validate names it
		}
		m.legacy = append(m.legacy, fmt.Sprintf("peers[%d] = %q", i, p))
		m.Peers[i] = host
	}
	if m.BindAddr == "" {
		m.BindAddr = m.LocalAddr
	}
}

// Warnings returns what an operator should know about the block that is
// not an error: one line when the original goavail's "IP:port" addresses
// were read in its meaning.
func (m Members) Warnings() []string {
	if len(m.legacy) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("Members: %s carry the original goavail's ports, which were its HTTP update listener; "+
		"goavail gossips on members_port (%d, UDP and TCP) at those addresses and ignores the ports; write the addresses without them to silence this",
		strings.Join(m.legacy, ", "), m.MembersPort)}
}

// Agents is the number of agents the block configures: this one and its
// peers.
func (m Members) Agents() int { return len(m.Peers) + 1 }

// NeedMajority returns an error when, with peers, min_peers_agree + 1 is not
// a majority of the agents (so two sides of a partition could each pick a
// writer) and allow_split_brain is not set. peers is the number of peers
// the check is made against (the running ones, on a reload).
func (m Members) NeedMajority(peers int) error {
	agents := peers + 1
	if peers == 0 || m.AllowSplitBrain || 2*(m.MinPeersAgree+1) > agents {
		return nil
	}
	return fmt.Errorf("Members.min_peers_agree = %d with %d agents: each side of a partition could choose its own writer and both would write DNS; "+
		"set min_peers_agree to at least %d (then more than half of the agents must agree), or set allow_split_brain = true to accept that risk",
		m.MinPeersAgree, agents, agents/2)
}

func (m Members) validate() []error {
	var errs []error
	if m.MembersPort < 1 || m.MembersPort > 65535 {
		errs = append(errs, fmt.Errorf("Members.members_port = %d: must be from 1 to 65535", m.MembersPort))
	}
	if m.MinPeersAgree < 0 {
		errs = append(errs, fmt.Errorf("Members.min_peers_agree = %d: must be 0 or more", m.MinPeersAgree))
	}
	if m.MinPeersAgree > len(m.Peers) {
		errs = append(errs, fmt.Errorf("Members.min_peers_agree = %d: more than the %s could ever confirm", m.MinPeersAgree, plural(len(m.Peers), "configured peer")))
	} else if err := m.NeedMajority(len(m.Peers)); m.MinPeersAgree >= 0 && err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, m.electorateErrors()...)
	for i, p := range m.Peers {
		if strings.TrimSpace(p) == "" || strings.ContainsAny(p, " /") {
			errs = append(errs, fmt.Errorf("Members.peers[%d] = %q: must be a host or host:port", i, p))
		}
	}
	for _, a := range []struct{ key, v string }{{"local_addr", m.LocalAddr}, {"bind_addr", m.BindAddr}} {
		if a.key == "bind_addr" && a.v == m.LocalAddr {
			continue // bind_addr defaults to local_addr: one error is enough
		}
		if _, err := netip.ParseAddr(a.v); a.v != "" && err != nil {
			errs = append(errs, fmt.Errorf("Members.%s = %q: must be an IP address (or the original goavail's IP:port)", a.key, a.v))
		}
	}
	if len(m.Peers) > 0 && len(m.CryptoKey) == 0 {
		errs = append(errs, fmt.Errorf("Members.crypto_key: required when peers are set, so that no one else can join or vote; goavail keygen makes one"))
	}
	if m.ViewInterval.D() < 100*time.Millisecond || m.ViewInterval.D() > time.Minute {
		errs = append(errs, fmt.Errorf("Members.view_interval = %s: must be from 100ms to 1m", m.ViewInterval.D()))
	}
	if m.ViewStaleAfter.D() < 2*m.ViewInterval.D() {
		errs = append(errs, fmt.Errorf("Members.view_stale_after = %s: must be at least twice view_interval (%s), or one lost message makes a peer stale", m.ViewStaleAfter.D(), m.ViewInterval.D()))
	} else if l := minLease(m.ViewInterval.D()); m.ViewStaleAfter.D() < l {
		errs = append(errs, fmt.Errorf("Members.view_stale_after = %s: with view_interval %s it must be at least %s, or the writer lease it sets never leaves time for a request", m.ViewStaleAfter.D(), m.ViewInterval.D(), l))
	}
	if m.IsolationThreshold < 0 || m.IsolationThreshold > 1 {
		errs = append(errs, fmt.Errorf("Members.isolation_threshold = %v: must be from 0 (off) to 1", m.IsolationThreshold))
	}
	return errs
}

// decisionKeys renders the [Members] keys that change what the agents
// decide, for the fingerprint: agents that differ in one of them must not
// count each other's views.
func (m Members) decisionKeys() string {
	return fmt.Sprintf("min_peers_agree=%d|view_stale_after=%d|isolation_threshold=%v|allow_split_brain=%v",
		m.MinPeersAgree, m.ViewStaleAfter.D(), m.IsolationThreshold, m.AllowSplitBrain)
}

// ReloadErrors checks a reloaded block against the running one: peers
// apply at a restart only, so min_peers_agree is checked against the
// running peers.
func (m Members) ReloadErrors(running Members) error {
	if m.MinPeersAgree > len(running.Peers) {
		return fmt.Errorf("Members.min_peers_agree = %d: more than the %d peers in effect (a new peers list applies at the next restart)", m.MinPeersAgree, len(running.Peers))
	}
	if err := m.NeedMajority(len(running.Peers)); err != nil {
		return fmt.Errorf("against the %d peers in effect (a new peers list applies at the next restart): %w", len(running.Peers), err)
	}
	return m.leaseReloadError(running)
}
