package config

import (
	"strings"
	"testing"
)

const oneGroup = "[Cloudflare]\ndns_domain = \"example.com\"\nhostnames = [\"test\"]\nip_addresses = [\"192.0.2.1\"]\n"

// TestMembers_OriginalAddresses: the original goavail's example, with
// "IP:port" local_addr and peers (the ports were its HTTP listener), is
// read in its meaning: the IPs, gossip on members_port, and one warning
// that says so. Peers as "host" or "host:members_port" are unchanged.
func TestMembers_OriginalAddresses(t *testing.T) {
	c, err := Parse(`failure_threshold = 5
interval = 2
[Members]
peers = ["127.0.0.1:8082", "agent-3.example.com:7947", "agent-4.example.com", "[2001:db8::5]:8082"]
local_addr = "127.0.0.1:8081"
members_port = 7947
min_peers_agree = 2
crypto_key = "1234567891012345"
` + oneGroup)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Members
	if m.LocalAddr != "127.0.0.1" || m.BindAddr != "127.0.0.1" {
		t.Errorf("local_addr %q bind_addr %q, want the IP alone", m.LocalAddr, m.BindAddr)
	}
	if got := strings.Join(m.Peers, ","); got != "127.0.0.1,agent-3.example.com:7947,agent-4.example.com,2001:db8::5" {
		t.Errorf("peers = %s", got)
	}
	w := m.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], `local_addr = "127.0.0.1:8081"`) || !strings.Contains(w[0], `peers[0] = "127.0.0.1:8082"`) ||
		!strings.Contains(w[0], "HTTP update listener") || !strings.Contains(w[0], "members_port (7947") || strings.Contains(w[0], "agent-3") {
		t.Errorf("warnings = %q", w)
	}
	plain, err := Parse("[Members]\npeers = [\"192.0.2.7\"]\nmin_peers_agree = 1\ncrypto_key = \"1234567891012345\"\n" + oneGroup)
	if err != nil || plain.Members.Warnings() != nil {
		t.Errorf("plain addresses: %v, warnings %q", err, plain.Members.Warnings())
	}
}

// TestMembers_SplitBrainNeedsTheKey: a quorum that is not a majority is
// refused with peers, accepted alone, and accepted with allow_split_brain.
func TestMembers_SplitBrainNeedsTheKey(t *testing.T) {
	for _, tc := range []struct {
		members string
		ok      bool
	}{
		{"", true}, // alone: min_peers_agree = 0 is the original behaviour
		{"peers = [\"a\"]\nmin_peers_agree = 0", false},
		{"peers = [\"a\"]\nmin_peers_agree = 1", true},
		{"peers = [\"a\", \"b\"]\nmin_peers_agree = 1", true},
		{"peers = [\"a\", \"b\", \"c\"]\nmin_peers_agree = 1", false},
		{"peers = [\"a\", \"b\", \"c\"]\nmin_peers_agree = 2", true},
		{"peers = [\"a\", \"b\", \"c\", \"d\"]\nmin_peers_agree = 2", true},
		{"peers = [\"a\", \"b\"]\nmin_peers_agree = 0\nallow_split_brain = true", true},
	} {
		_, err := Parse("[Members]\ncrypto_key = \"1234567891012345\"\n" + tc.members + "\n" + oneGroup)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err = %v, want ok=%v", tc.members, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "allow_split_brain") {
			t.Errorf("%q: the error does not name the key that allows it: %v", tc.members, err)
		}
	}
}

// TestFingerprint_CoversDecisionKeys: every key that changes a decision
// changes the fingerprint; one that does not (the view interval) does not.
func TestFingerprint_CoversDecisionKeys(t *testing.T) {
	base := "[Members]\npeers = [\"a\", \"b\"]\ncrypto_key = \"1234567891012345\"\nmin_peers_agree = 1\n"
	parse := func(members, group string) [8]byte {
		t.Helper()
		c, err := Parse(base + members + "\n[Cloudflare]\ndns_domain = \"example.com\"\nhostnames = [\"test\"]\nip_addresses = [\"192.0.2.1\"]\n" + group)
		if err != nil {
			t.Fatal(err)
		}
		return c.Fingerprint()
	}
	ref := parse("", "")
	for _, change := range []struct{ members, group string }{
		{"view_stale_after = \"20s\"", ""},
		{"isolation_threshold = 0.5", ""},
		{"allow_split_brain = true", ""},
		{"", "all_down = \"fail-static\""},
	} {
		if parse(change.members, change.group) == ref {
			t.Errorf("%q %q does not change the fingerprint", change.members, change.group)
		}
	}
	if c, err := Parse(strings.Replace(base, "min_peers_agree = 1", "min_peers_agree = 2", 1) + oneGroup); err != nil || c.Fingerprint() == ref {
		t.Errorf("min_peers_agree does not change the fingerprint (%v)", err)
	}
	if parse("view_interval = \"1s\"\nview_stale_after = \"10s\"", "") != ref {
		t.Error("view_interval changed the fingerprint; it decides nothing")
	}
}

// TestMembers_ReloadChecksWhatIsInEffect: a reload's min_peers_agree is
// checked against the peers in effect, since a new peers list waits for a
// restart.
func TestMembers_ReloadChecksWhatIsInEffect(t *testing.T) {
	running := Members{Peers: []string{"a", "b"}, MinPeersAgree: 1}
	for _, tc := range []struct {
		next Members
		ok   bool
	}{
		{Members{Peers: []string{"a", "b"}, MinPeersAgree: 2}, true},
		{Members{Peers: []string{"a", "b", "c", "d"}, MinPeersAgree: 3}, false}, // 3 > the 2 peers running
		{Members{Peers: []string{"a", "b", "c", "d"}, MinPeersAgree: 0}, false}, // not a majority of the 3 running
		{Members{Peers: []string{"a", "b", "c", "d"}, MinPeersAgree: 0, AllowSplitBrain: true}, true},
	} {
		if err := tc.next.ReloadErrors(running); (err == nil) != tc.ok {
			t.Errorf("%+v: %v, want ok=%v", tc.next, err, tc.ok)
		} else if err != nil && !strings.Contains(err.Error(), "in effect") {
			t.Errorf("the error does not say it checks the running peers: %v", err)
		}
	}
}

// TestMembers_PeerPortIsItsGossipPort: without the original's "IP:port"
// local_addr, a peer's "host:port" is that peer's gossip port, as the docs
// say (it used to be read as the original's HTTP port and dropped, so a
// test cluster on one machine could not form); with it, the original's
// meaning is kept.
func TestMembers_PeerPortIsItsGossipPort(t *testing.T) {
	c, err := Parse("[Members]\nlocal_addr = \"127.0.0.1\"\nmembers_port = 7946\npeers = [\"127.0.0.1:7947\", \"127.0.0.1:7948\"]\nmin_peers_agree = 1\ncrypto_key = \"1234567891012345\"\n" + oneGroup)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Members.Peers, ","); got != "127.0.0.1:7947,127.0.0.1:7948" {
		t.Errorf("peers = %s, want each peer's own port", got)
	}
	if w := c.Members.Warnings(); w != nil {
		t.Errorf("warnings = %q", w)
	}
	orig, err := Parse("[Members]\nlocal_addr = \"192.0.2.6:8080\"\npeers = [\"192.0.2.7:8080\", \"192.0.2.8:8080\"]\nmin_peers_agree = 1\ncrypto_key = \"1234567891012345\"\n" + oneGroup)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(orig.Members.Peers, ","); got != "192.0.2.7,192.0.2.8" || len(orig.Members.Warnings()) != 1 {
		t.Errorf("the original's form: peers = %s, warnings %q", got, orig.Members.Warnings())
	}
}
