package main

import (
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/goavail/goavail/agent"
	"github.com/goavail/goavail/crypto"
	"github.com/goavail/goavail/internal/cfemu"
	"github.com/goavail/goavail/internal/netlab"
)

// cliIn runs the goavail CLI inside a host's namespace (where that agent's
// http_listen, 127.0.0.1:9800, is).
func cliIn(t *testing.T, h *netlab.Host, bin string, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", h.NS, bin}, args...)...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// TestE2E_DrainReachesEveryAgent: a drain sent to the agent that does not
// write reaches the writer through its sealed view, and the writer removes
// the record; an undrain sent to the writer reaches the other agent.
func TestE2E_DrainReachesEveryAgent(t *testing.T) {
	l := newE2ELab(t, 131, labOpts{hosts: 4, gateway: true})
	t1, t2, a, b, bin, emu := l.hosts[0], l.hosts[1], l.hosts[2], l.hosts[3], l.bin, l.emu
	l.seed(cfemu.Record{TTL: 60}, t1, t2)
	t.Setenv("GOAVAIL_API_TOKEN", "cluster-drain-token")
	key := crypto.GenerateKey()
	agA := l.startIn(a, clusterConfig("agent-1", a, []*netlab.Host{b}, key, t1, t2), "--no-dry-run")
	agB := l.startIn(b, clusterConfig("agent-2", b, []*netlab.Host{a}, key, t1, t2), "--no-dry-run")
	logs := lazy(func() string { return "--- agent-1\n" + agA.logs.String() + "--- agent-2\n" + agB.logs.String() })
	status := func(h *netlab.Host) agent.StatusDoc {
		out, _ := cliIn(t, h, bin, "status", "--addr", "127.0.0.1:9800", "--json")
		var doc agent.StatusDoc
		json.Unmarshal([]byte(out), &doc)
		return doc
	}
	agreedUp := func(h *netlab.Host) func() bool {
		return func() bool {
			doc := status(h)
			n := 0
			for _, tg := range doc.Targets {
				if tg.Agreed == "up" {
					n++
				}
			}
			return n == 2 && doc.Quorate
		}
	}
	eventually(t, "agent-1 agrees both targets are up", agreedUp(a), logs)
	eventually(t, "agent-2 agrees both targets are up", agreedUp(b), logs)

	out, code := cliIn(t, b, bin, "drain", "--addr", "127.0.0.1:9800", "--reason", "rack move", t1.V4.String())
	if code != 0 {
		t.Fatalf("drain through agent-2: exit %d: %s", code, out)
	}
	eventually(t, "the writer removed the drained address", func() bool { return !has(emu, "www.example.com", "A", t1.V4.String()) }, logs)
	drainedOn := func(h *netlab.Host, want bool) func() bool {
		return func() bool {
			doc := status(h)
			got := false
			for _, d := range doc.Drains {
				got = got || (d.Addr.String() == t1.V4.String() && d.Reason == "rack move" && d.Node == "agent-2")
			}
			return got == want
		}
	}
	eventually(t, "agent-1 shows agent-2's drain", drainedOn(a, true), logs)
	if !has(emu, "www.example.com", "A", t2.V4.String()) {
		t.Fatalf("the other record went too")
	}

	out, code = cliIn(t, a, bin, "undrain", "--addr", "127.0.0.1:9800", t1.V4.String())
	if code != 0 {
		t.Fatalf("undrain through agent-1: exit %d: %s", code, out)
	}
	eventually(t, "agent-2 learns the undrain", drainedOn(b, false), logs)
	eventually(t, "the record is back", func() bool { return has(emu, "www.example.com", "A", t1.V4.String()) }, logs)
}
