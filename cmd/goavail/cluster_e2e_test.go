package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/crypto"
	"github.com/goavail/goavail/internal/cfemu"
	"github.com/goavail/goavail/internal/netlab"
)

// startAgentIn runs goavail inside a host's network namespace.
func startAgentIn(t *testing.T, h *netlab.Host, bin string, emu *cfemu.Server, config string, args ...string) *proc {
	t.Helper()
	return launch(t, []string{"ip", "netns", "exec", h.NS}, bin, emu, config, args...)
}

func clusterConfig(name string, self *netlab.Host, peers []*netlab.Host, key string, targets ...*netlab.Host) string {
	var ps, ips []string
	for _, p := range peers {
		ps = append(ps, fmt.Sprintf("%q", p.V4.String()))
	}
	for _, h := range targets {
		ips = append(ips, fmt.Sprintf("%q", h.V4.String()))
	}
	return fmt.Sprintf(`node_name = %q
failure_threshold = 2
rise_threshold = 2
interval = "200ms"
probe_timeout = "150ms"
reconcile_period = "2s"

[Members]
peers = [%s]
local_addr = %q
min_peers_agree = 1
crypto_key = %q
view_interval = "300ms"

[Cloudflare]
dns_domain = "example.com"
hostnames = ["www"]
ip_addresses = [%s]
`, name, strings.Join(ps, ", "), self.V4.String(), key, strings.Join(ips, ", "))
}

// saw is the log line of an agent's own view of h changing (not the
// cluster's agreement, which logs the same addr/from/to words).
func saw(h *netlab.Host, from, to string) string {
	return `msg="target state changed" addr=` + h.V4.String() + " from=" + from + " to=" + to
}

// writes counts the requests that could change the zone.
func writes(emu *cfemu.Server) int {
	n := 0
	for _, r := range emu.Requests() {
		if r.Write() {
			n++
		}
	}
	return n
}

// lazy renders logs when a failure prints them, not when the check starts.
type lazy func() string

func (l lazy) String() string { return l() }

// TestE2E_ClusterAgreement runs three goavail processes, each in its own
// namespace, with min_peers_agree = 1, and a fourth with the wrong key.
// A rule in an agent's namespace drops the target's replies for that agent
// alone. One agent seeing the target down changes nothing; two do, even
// though the writer still sees it up; when they see it again the record
// returns; the wrong-key agent's view never counts.
func TestE2E_ClusterAgreement(t *testing.T) {
	l := newE2ELab(t, 23, labOpts{hosts: 6, gateway: true})
	target, other, hosts, evilHost, emu := l.hosts[0], l.hosts[1], l.hosts[2:5], l.hosts[5], l.emu
	l.seed(cfemu.Record{TTL: 60}, target, other)

	key := crypto.GenerateKey()
	var agents []*proc
	for i, h := range hosts {
		var peers []*netlab.Host
		for _, p := range hosts {
			if p != h {
				peers = append(peers, p)
			}
		}
		agents = append(agents, l.startIn(h, clusterConfig(fmt.Sprintf("agent-%d", i+1), h, peers, key, target, other), "--no-dry-run"))
	}
	all := func() fmt.Stringer {
		return lazy(func() string {
			var b strings.Builder
			for i, a := range agents {
				fmt.Fprintf(&b, "--- agent-%d\n%s", i+1, a.logs)
			}
			return b.String()
		})
	}
	for i, a := range agents {
		eventually(t, fmt.Sprintf("agent-%d agrees the target is up with its peers", i+1), func() bool {
			l := a.logs.String()
			return strings.Contains(l, saw(target, "unknown", "up")) && strings.Contains(l, "addr="+target.V4.String()+" from=unknown to=up voters=") &&
				strings.Contains(l, "writer=agent-1")
		}, all())
	}

	// One agent cut off from the target: nothing changes.
	hosts[2].DropFrom(target.V4, true)
	eventually(t, "agent-3 sees the target down", func() bool {
		return strings.Contains(agents[2].logs.String(), saw(target, "up", "down"))
	}, all())
	time.Sleep(2 * time.Second) // several view intervals and a reconcile period
	if n := writes(emu); n != 0 || !has(emu, "www.example.com", "A", target.V4.String()) {
		t.Fatalf("one agent's view changed DNS: %d writes, records %v\n%s", n, emu.Records("example.com"), all())
	}

	// A second agent agrees: the writer (agent-1, which still sees the
	// target up) removes the record.
	hosts[1].DropFrom(target.V4, true)
	eventually(t, "the target's record removed", func() bool { return !has(emu, "www.example.com", "A", target.V4.String()) }, all())
	if !has(emu, "www.example.com", "A", other.V4.String()) {
		t.Fatalf("the other address went too: %v", emu.Records("example.com"))
	}
	if !strings.Contains(agents[1].logs.String(), "standby (writer agent-1)") {
		t.Errorf("agent-2 did not report its standby plan\n%s", agents[1].logs)
	}
	// agent-2's history has the removal as it saw the writer make it.
	byWriter := "by_writer delete www.example.com A " + target.V4.String() + " in example.com (writer agent-1)"
	eventually(t, "agent-2's history showing the writer's removal", func() bool {
		out, _ := exec.Command("ip", "netns", "exec", hosts[1].NS, l.bin, "history", "--addr", "127.0.0.1:9800", "--address", target.V4.String()).Output()
		return strings.Contains(string(out), byWriter)
	}, all())
	for _, a := range agents[1:] {
		if strings.Contains(a.logs.String(), "dns record deleted") {
			t.Errorf("a standby agent wrote:\n%s", a.logs)
		}
	}

	// Both see it again: the record comes back.
	hosts[1].DropFrom(target.V4, false)
	hosts[2].DropFrom(target.V4, false)
	eventually(t, "the target's record restored", func() bool { return has(emu, "www.example.com", "A", target.V4.String()) }, all())
	// agent-3 must see it up again before it is cut off once more: the
	// restore can land before agent-3's own rise_threshold is met.
	eventually(t, "agent-3 sees the target up again", func() bool {
		return strings.Contains(agents[2].logs.String(), saw(target, "down", "up"))
	}, all())

	// An agent with the wrong key, named to sort first, sees the target
	// down along with agent-3: its vote must not count.
	emu.ResetRequests()
	// Four agents in its config: a majority is 3 (min_peers_agree = 2).
	evilCfg := strings.Replace(clusterConfig("agent-0", evilHost, hosts, crypto.GenerateKey(), target, other), "min_peers_agree = 1", "min_peers_agree = 2", 1)
	evil := l.startIn(evilHost, evilCfg, "--no-dry-run")
	evilHost.DropFrom(target.V4, true)
	hosts[2].DropFrom(target.V4, true)
	eventually(t, "agent-1 drops the wrong-key traffic", func() bool {
		return strings.Contains(agents[0].logs.String(), "reason=wrong_key")
	}, all())
	eventually(t, "agent-0 and agent-3 see the target down", func() bool {
		l := evil.logs.String()
		return (strings.Contains(l, saw(target, "unknown", "down")) || strings.Contains(l, saw(target, "up", "down"))) &&
			strings.Count(agents[2].logs.String(), saw(target, "up", "down")) >= 2
	}, all())
	time.Sleep(2 * time.Second)
	if n := writes(emu); n != 0 || !has(emu, "www.example.com", "A", target.V4.String()) {
		t.Fatalf("the wrong-key agent influenced DNS: %d writes, records %v\nagent-0:\n%s\n%s", n, emu.Records("example.com"), evil.logs, all())
	}
	for _, a := range agents {
		a.stop(t)
	}
	evil.stop(t)
}
