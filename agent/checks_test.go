package agent

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/monitor"
)

// TestCheckTargets: each address gets the checks that name it (or all),
// the match of its group, one shared monitor check per config check, and a
// job for every non-ICMP check.
func TestCheckTargets(t *testing.T) {
	cfg, err := config.Parse(`
[[Records]]
dns_domain = "example.com"
hostnames = ["www"]
ip_addresses = ["192.0.2.1", "192.0.2.2"]
match = "any"
[[Records.Checks]]
type = "icmp"
[[Records.Checks]]
type = "https"
addresses = ["192.0.2.2"]
[[Records]]
dns_domain = "example.net"
hostnames = ["db"]
ip_addresses = ["192.0.2.3"]
[[Records.Checks]]
type = "tcp"
port = 5432
`)
	if err != nil {
		t.Fatal(err)
	}
	targets, jobs := checkTargets(cfg)
	a1, a2, a3 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	if len(targets[a1].Checks) != 1 || len(targets[a2].Checks) != 2 || targets[a2].Match != monitor.MatchAny || targets[a3].Match != monitor.MatchAll {
		t.Fatalf("targets = %+v", targets)
	}
	if targets[a1].Checks[0] != targets[a2].Checks[0] {
		t.Error("the group's icmp check is not shared by its addresses")
	}
	var keys []string
	for _, j := range jobs {
		keys = append(keys, j.Addr.String()+" "+j.Check.Key)
	}
	if got := strings.Join(keys, ","); got != "192.0.2.2 https:443/,192.0.2.3 tcp:5432" {
		t.Errorf("jobs = %s", got)
	}
	h := targets[a2].Checks[1].HTTP
	if h.Host != "www.example.com" || !h.TLSVerify || len(h.StatusCodes) != 1 || h.StatusCodes[0] != [2]int{200, 299} {
		t.Errorf("https options = %+v", h)
	}
}
