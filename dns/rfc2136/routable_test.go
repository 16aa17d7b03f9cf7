package rfc2136

import (
	"testing"

	"github.com/goavail/goavail/internal/netlab"
)

// A nameserver address this host has no route to is not one the
// propagation check can read back from: routable says so without sending
// anything (the lab's unreachable routes stand for a host without IPv6).
func TestRoutable(t *testing.T) {
	netlab.New(t, 201) // installs the unreachable routes for 198.18.0.0/15 and 2001:2::/48
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:53", true},
		{"[::1]:53", true},
		{"198.18.253.53:53", false},
		{"[2001:2:0:fd::53]:53", false},
	} {
		if got := routable(tc.addr); got != tc.want {
			t.Errorf("routable(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}
