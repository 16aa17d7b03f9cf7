package config

import (
	"strings"
	"testing"
	"time"
)

// TestMembers_EachPeerOnce: only the listed peers vote and the majority
// check counts len(peers)+1 agents, so a peer listed twice (in two forms)
// is refused. A seed-only
// list is accepted: the agents it does not list join but never vote (see
// cluster TestLease_OnlyConfiguredPeersVote).
func TestMembers_EachPeerOnce(t *testing.T) {
	for _, tc := range []struct {
		peers, local, want string
	}{
		{`["192.0.2.7", "192.0.2.7:7946"]`, "", `peers[1] = "192.0.2.7:7946" repeats peers[0]`},
		{`["192.0.2.7"]`, "192.0.2.8", ""},
	} {
		_, err := Parse("[Members]\npeers = " + tc.peers + "\nlocal_addr = \"" + tc.local + "\"\nmembers_port = 7946\nmin_peers_agree = 1\ncrypto_key = \"1234567891012345\"\n" + oneGroup)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("peers %s: %v", tc.peers, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("peers %s local_addr %q: err %v, want %q", tc.peers, tc.local, err, tc.want)
		}
	}
}

// TestMembers_ReloadRefusesANewViewStaleAfter: view_stale_after is the
// writer lease's length and is in the fingerprint; a reload that changes
// it is refused (the lease length of a running agent cannot change).
func TestMembers_ReloadRefusesANewViewStaleAfter(t *testing.T) {
	running := Members{Peers: []string{"a", "b"}, MinPeersAgree: 1, ViewStaleAfter: Duration(30e9)}
	next := running
	if err := next.ReloadErrors(running); err != nil {
		t.Fatalf("unchanged: %v", err)
	}
	next.ViewStaleAfter = Duration(5e9)
	if err := next.ReloadErrors(running); err == nil || !strings.Contains(err.Error(), "restart") {
		t.Errorf("view_stale_after 30s -> 5s by reload: err %v, want a refusal that says to restart", err)
	}
}

// TestMembers_ViewStaleAfterLeavesTimeToWrite: view_stale_after is the
// writer lease's length; one too short for three view intervals and two
// lease margins never leaves time for a request and is refused, and the
// default for a short view_interval is raised to that minimum.
func TestMembers_ViewStaleAfterLeavesTimeToWrite(t *testing.T) {
	base := "[Members]\npeers = [\"192.0.2.7\"]\nmin_peers_agree = 1\ncrypto_key = \"1234567891012345\"\nview_interval = \"100ms\"\n"
	if _, err := Parse(base + "view_stale_after = \"400ms\"\n" + oneGroup); err == nil || !strings.Contains(err.Error(), "at least 700ms") {
		t.Errorf("view_stale_after 400ms with view_interval 100ms: err %v, want a refusal naming 700ms", err)
	}
	c, err := Parse(base + oneGroup)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Members.ViewStaleAfter.D(); got != 700*time.Millisecond {
		t.Errorf("default view_stale_after with view_interval 100ms = %s, want 700ms", got)
	}
}
