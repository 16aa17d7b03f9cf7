package main

import (
	"slices"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/goavail/goavail/internal/namedlab"
)

// TestE2E_RFC2136StalePlanRefused runs the binary against a real named
// with every batch paused after its last check and before its send
// (GOAVAIL_TEST_PAUSE_BEFORE_SEND). While the removal of a host that
// stopped answering is paused, www's A RRset is changed by hand: the
// UPDATE, conditional on the RRset as the pass read it, is refused by
// named (NXRRSET) and nothing of it lands; the agent lists again and
// removes the host from the zone as it now is, keeping the hand-made
// record.
func TestE2E_RFC2136StalePlanRefused(t *testing.T) {
	namedlab.Skip(t)
	l := newE2ELab(t, 144, labOpts{noEmulator: true})
	a, b := l.hosts[0], l.hosts[1]
	s := namedlab.Start(t, "example.com", "www 300 IN A "+a.V4.String(), "www 300 IN A "+b.V4.String())
	www := func() []string { v := s.Lookup(t, "www.example.com", "A"); slices.Sort(v); return v }

	ag := launchEnv(t, nil, l.bin, rfc2136Config(freeAddr(t), s.Addr, a, b),
		[]string{"GOAVAIL_TSIG_SECRET=" + s.Secret, "GOAVAIL_TEST_PAUSE_BEFORE_SEND=2s"}, "--no-dry-run")
	eventually(t, "both hosts up", bothUp(ag, a, b), ag.logs)

	a.IgnoreEcho(true)
	eventually(t, "the removal paused before its send", func() bool {
		return strings.Contains(ag.logs.String(), "test hook: pausing after the last lease check, before the send")
	}, ag.logs)
	const hand = "198.51.100.9"
	if rc := s.Update(t, func(m *mdns.Msg) { m.Insert([]mdns.RR{namedlab.RR(t, "www.example.com. 300 IN A "+hand)}) }); rc != mdns.RcodeSuccess {
		t.Fatalf("hand edit: rcode %s", mdns.RcodeToString[rc])
	}
	want := []string{b.V4.String(), hand}
	slices.Sort(want)
	eventually(t, "a removed from the zone as it is now", func() bool { return slices.Equal(www(), want) }, ag.logs)
	out := ag.logs.String()
	if !strings.Contains(out, "prerequisite refused (NXRRSET)") || !strings.Contains(out, "listing it again") {
		t.Errorf("no refused stale UPDATE in the log:\n%s", out)
	}
	if strings.Count(out, `msg="dns record deleted"`) != 1 {
		t.Errorf("want exactly one removal logged as made (the replanned one):\n%s", out)
	}
}
