package main

import (
	"testing"

	"github.com/goavail/goavail/internal/cfemu"
	"github.com/goavail/goavail/internal/netlab"
)

// e2eLab is what an end-to-end test starts from: a netlab lab with its
// hosts, the goavail binary built for the tests, and the Cloudflare
// emulator serving zone example.com.
type e2eLab struct {
	t     *testing.T
	lab   *netlab.Lab
	hosts []*netlab.Host // in the order they were added
	bin   string
	emu   *cfemu.Server // nil with labOpts.noEmulator
}

// labOpts says how a test's lab differs from the usual one: two hosts, an
// emulator on loopback, and no records.
type labOpts struct {
	// hosts is how many hosts to add (2 when zero).
	hosts int
	// gateway puts the emulator on the lab's gateway address instead of
	// loopback, so that agents inside the hosts' namespaces reach it.
	gateway bool
	// seedTTL, when set, gives every host an A record on
	// www.example.com with this ttl.
	seedTTL int
	// noEmulator is for tests that run no agent against the API.
	noEmulator bool
}

// newE2ELab builds the lab on subnet: the hosts, the binary and the
// emulator with zone example.com, seeded as o says. Everything goes when
// the test ends.
func newE2ELab(t *testing.T, subnet int, o labOpts) *e2eLab {
	t.Helper()
	l := &e2eLab{t: t, lab: netlab.New(t, subnet)}
	n := o.hosts
	if n == 0 {
		n = 2
	}
	for range n {
		l.hosts = append(l.hosts, l.lab.AddHost())
	}
	l.bin = buildBinary(t)
	if o.noEmulator {
		return l
	}
	if o.gateway {
		emu, err := cfemu.NewOn(l.lab.Gateway().String() + ":0")
		if err != nil {
			t.Fatalf("start the API emulator on the lab gateway: %v", err)
		}
		l.emu = emu
	} else {
		l.emu = cfemu.New()
	}
	t.Cleanup(l.emu.Close)
	l.emu.AddZone("example.com")
	if o.seedTTL != 0 {
		l.seed(cfemu.Record{TTL: o.seedTTL}, l.hosts...)
	}
	return l
}

// seed adds r to zone example.com once for each of hosts, as an A record
// on www.example.com (unless r gives another name or type) with the
// host's address, and returns the records as stored.
func (l *e2eLab) seed(r cfemu.Record, hosts ...*netlab.Host) []cfemu.Record {
	if r.Name == "" {
		r.Name = "www.example.com"
	}
	if r.Type == "" {
		r.Type = "A"
	}
	var out []cfemu.Record
	for _, h := range hosts {
		r.Content = h.V4.String()
		out = append(out, l.emu.Seed("example.com", r))
	}
	return out
}

// start runs goavail monitor on config against the emulator, in the root
// namespace.
func (l *e2eLab) start(config string, args ...string) *proc {
	l.t.Helper()
	return startAgent(l.t, l.bin, l.emu, config, args...)
}

// startIn runs goavail monitor on config against the emulator, inside h's
// network namespace (the emulator must be on the gateway).
func (l *e2eLab) startIn(h *netlab.Host, config string, args ...string) *proc {
	l.t.Helper()
	return startAgentIn(l.t, h, l.bin, l.emu, config, args...)
}
