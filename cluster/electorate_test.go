package cluster

import (
	"io"
	"log"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/goavail/goavail/crypto"
	"github.com/goavail/goavail/monitor"
)

// agentOpts says how a test agent starts: its rules and fingerprint, and
// whether every member votes (the test shortcut) or only the listed peers
// (as in production).
type agentOpts struct {
	rules    Rules
	fp       [crypto.FingerprintSize]byte
	listed   bool // only agents at an address in peers vote
	interval time.Duration
	incFile  string
}

// newCutTransport makes a cuttable transport on 127.0.0.1 with a free port.
func newCutTransport(t *testing.T, blocked ...string) *cutTransport {
	t.Helper()
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{"127.0.0.1"}, BindPort: 0, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	ct := &cutTransport{NetTransport: nt, blocked: map[string]bool{}, udpOnly: map[string]bool{}, tcpOnly: map[string]bool{}}
	for _, b := range blocked {
		ct.blocked[b] = true
	}
	return ct
}

// startOn starts an agent on a transport made by newCutTransport.
func startOn(t *testing.T, ct *cutTransport, name string, peers []string, o agentOpts) *node {
	t.Helper()
	if o.interval == 0 {
		o.interval = 100 * time.Millisecond
	}
	n := &node{states: allUp(), done: make(chan error, 1)}
	c, err := New(Config{
		NodeName: name, BindAddr: "127.0.0.1", AdvertiseAddr: "127.0.0.1", Peers: peers, Keys: [][]byte{keyA},
		Fingerprint: o.fp, Rules: o.rules, ViewInterval: o.interval, Local: n.local, Log: testLogger(t),
		rejoinEvery: 300 * time.Millisecond, anyVoter: !o.listed, IncarnationFile: o.incFile,
		tune: func(mc *memberlist.Config) {
			fastTimers(mc)
			mc.Transport = ct
			mc.BindPort, mc.AdvertisePort = ct.GetAutoBindPort(), ct.GetAutoBindPort()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	n.Cluster = c
	startRun(t, n)
	return n
}

// startWith starts an agent where every member votes, with its own rules
// and fingerprint, its links to blocked cut from the start.
func startWith(t *testing.T, name string, peers []string, r Rules, f [crypto.FingerprintSize]byte, blocked ...string) (*node, *cutTransport) {
	t.Helper()
	ct := newCutTransport(t, blocked...)
	return startOn(t, ct, name, peers, agentOpts{rules: r, fp: f}), ct
}

// TestLease_OnlyConfiguredPeersVote: the electorate is the configured
// peers. Four agents each list only one seed (memberlist needs no more),
// min_peers_agree = 1, which config accepts (2 of the 2 configured agents
// is a majority). They all join one cluster, but an agent not listed in
// peers neither votes nor endorses, so a 2|2 partition never gives two
// writers.
func TestLease_OnlyConfiguredPeersVote(t *testing.T) {
	o := agentOpts{rules: rules1, fp: fp, listed: true}
	tr := []*cutTransport{newCutTransport(t), newCutTransport(t), newCutTransport(t), newCutTransport(t)}
	n1 := startOn(t, tr[0], "n1", []string{"127.0.0.1:1"}, o)
	nodes := []*node{n1}
	for i, name := range []string{"n2", "n3", "n4"} {
		nodes = append(nodes, startOn(t, tr[i+1], name, []string{n1.Addr()}, o))
	}
	for _, n := range nodes {
		eventually(t, n.cfg.NodeName+" sees four members", func() bool { return len(n.Members()) == 4 })
		eventually(t, n.cfg.NodeName+" holds every other agent's view", func() bool { return len(n.PeerViews()) == 3 })
	}
	roundsRun(t, nodes...) // each decides with every view in hand, listed or not
	for _, n := range nodes[1:] {
		if v := n.Decision().Voters; len(v) > 2 {
			t.Errorf("%s counts voters %v: only itself and its one configured peer may vote", n.cfg.NodeName, v)
		}
	}
	holders(t, nodes, time.Second)
	for _, a := range tr[:2] {
		for _, b := range tr[2:] {
			a.set(b.addr(), true)
			b.set(a.addr(), true)
		}
	}
	holders(t, nodes, 4*time.Second)
}

// TestLease_UnlistedAgentDoesNotVote: three agents that list each other
// choose a writer; a fourth that lists them (but is listed by none) joins
// the cluster and is ignored: the three keep three voters and one writer.
func TestLease_UnlistedAgentDoesNotVote(t *testing.T) {
	o := agentOpts{rules: rules1, fp: fp, listed: true}
	tr := []*cutTransport{newCutTransport(t), newCutTransport(t), newCutTransport(t), newCutTransport(t)}
	var nodes []*node
	for i, name := range []string{"n1", "n2", "n3"} {
		var peers []string
		for j := range 3 {
			if j != i {
				peers = append(peers, tr[j].addr())
			}
		}
		nodes = append(nodes, startOn(t, tr[i], name, peers, o))
	}
	extra := startOn(t, tr[3], "n0", []string{tr[0].addr(), tr[1].addr(), tr[2].addr()}, o)
	for _, n := range nodes {
		eventually(t, n.cfg.NodeName+" sees four members", func() bool { return len(n.Members()) == 4 })
	}
	eventually(t, "a writer among the listed agents", func() bool { w, _ := nodes[0].IsWriter(); return w })
	for _, n := range nodes {
		eventually(t, n.cfg.NodeName+" counts n1 n2 n3", func() bool { return slices.Equal(n.Decision().Voters, []string{"n1", "n2", "n3"}) })
	}
	for _, n := range nodes {
		eventually(t, n.cfg.NodeName+" holds n0's view", func() bool { _, ok := n.PeerViews()["n0"]; return ok })
	}
	roundsRun(t, nodes...) // each decides with n0's view in hand
	for _, n := range nodes {
		if v := n.Decision().Voters; slices.Contains(v, "n0") {
			t.Fatalf("%s counts the unlisted n0: voters %v", n.cfg.NodeName, v)
		}
	}
	holders(t, append(nodes, extra), 2*time.Second)
	if g := extra.leases.all(); len(g) > 0 {
		t.Errorf("the unlisted n0 held the lease: %s", grantsOf(extra))
	}
}

// restartNode starts a new process of old's agent on old's address, as a
// restart on the same host does, with the given peers and states.
func restartNode(t *testing.T, old *node, peers []string, states map[netip.Addr]monitor.State) *node {
	t.Helper()
	n := &node{states: states, done: make(chan error, 1)}
	c, err := New(Config{
		NodeName: old.cfg.NodeName, BindAddr: "127.0.0.1", AdvertiseAddr: "127.0.0.1", Port: int(old.ml.LocalNode().Port), Peers: peers, Keys: old.cfg.Keys,
		Fingerprint: old.cfg.Fingerprint, Rules: old.cfg.Rules, ViewInterval: old.cfg.ViewInterval, Local: n.local,
		Log: testLogger(t), tune: fastTimers, anyVoter: old.cfg.anyVoter,
	})
	if err != nil {
		t.Fatal(err)
	}
	n.Cluster = c
	startRun(t, n)
	return n
}
