package agent

import (
	"net/netip"

	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/dns"
)

// failOpenSets are the address sets the planner never empties: each
// group's A addresses and its AAAA addresses (dns.Plan fails open per
// hostname and record type). The agreement watches them so that the end of
// a fail-open hold does not act on the downs decided during it.
func failOpenSets(cfg *config.Config) [][]netip.Addr {
	var out [][]netip.Addr
	for _, g := range cfg.Groups {
		byType := map[string][]netip.Addr{}
		for _, a := range g.Addrs {
			t := dns.RecordType(a)
			byType[t] = append(byType[t], a)
		}
		for _, t := range []string{"A", "AAAA"} {
			if len(byType[t]) > 0 {
				out = append(out, byType[t])
			}
		}
	}
	return out
}
