package config

import (
	"strings"
	"testing"
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
