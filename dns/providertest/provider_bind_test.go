package providertest_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/dns/rfc2136"
	"github.com/goavail/goavail/internal/namedlab"
)

// bindProvider is the RFC 2136 provider (dns/rfc2136) against a real
// named 9.18 (internal/namedlab), one named per zone (a ZoneMux joins
// them when a world has two zones).
//   - stale: a hand edit (an UPDATE with no prerequisite) adding the
//     record: every write names the RRsets it touches as read, so any
//     change to them refuses it (NXRRSET).
//   - transient: a TCP proxy in front of named drops the connection of
//     the next UPDATE without forwarding it.
//   - permanent: the zone's update-policy grants the key nothing goavail
//     writes, so named answers every UPDATE REFUSED (reads still work).
//   - pages: none; named is read one query per managed name, so the
//     pagination scenario reads many names instead.
func bindProvider() provider {
	return provider{name: "bind", start: startBIND}
}

func startBIND(t *testing.T, e env) *world {
	t.Helper()
	namedlab.Skip(t)
	servers := map[string]*namedlab.Server{}
	proxies := map[string]*updateDropper{}
	built := map[string]dns.Provider{}
	for _, z := range e.zones {
		var lines []string
		for _, r := range z.seed {
			owner := strings.TrimSuffix(r.name, "."+z.name)
			content := r.content
			if r.typ == "TXT" {
				content = fmt.Sprintf("%q", content)
			}
			lines = append(lines, fmt.Sprintf("%s %d IN %s %s", owner, r.ttl, r.typ, content))
		}
		o := namedlab.Options{Zone: z.name, Records: lines}
		if z.refuseWrites {
			o.Policy = "grant " + namedlab.KeyName + " name nothing-goavail-writes." + z.name + ". TXT;"
		}
		s := namedlab.Run(t, o)
		servers[z.name] = s
		proxies[z.name] = newUpdateDropper(t, s.Addr)
		timeout := e.timeout
		if timeout == 0 {
			timeout = 5 * time.Second
		}
		p, err := rfc2136.New(rfc2136.Options{Server: proxies[z.name].addr, KeyName: namedlab.KeyName, Secret: s.Secret,
			Names: e.names, FenceLabel: "_goavail", Timeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		built[z.name] = p
	}
	var provider dns.Provider = &dns.ZoneMux{Providers: built, Of: func(zone string) string { return zone }}
	if len(built) == 1 {
		provider = built[e.zones[0].name]
	}
	return &world{
		provider: provider,
		read: func(t *testing.T, zone string, names ...string) []rec {
			t.Helper()
			var out []rec
			for _, n := range names {
				for _, typ := range []uint16{mdns.TypeA, mdns.TypeAAAA, mdns.TypeTXT} {
					out = append(out, lookup(t, servers[zone].Addr, n, typ)...)
				}
			}
			return out
		},
		stale: func(t *testing.T, zone string, r rec) {
			t.Helper()
			rr := namedlab.RR(t, fmt.Sprintf("%s. %d IN %s %s", r.name, r.ttl, r.typ, r.content))
			if rc := servers[zone].Update(t, func(m *mdns.Msg) { m.Insert([]mdns.RR{rr}) }); rc != mdns.RcodeSuccess {
				t.Fatalf("hand edit of %s: %s", zone, mdns.RcodeToString[rc])
			}
		},
		transient:  func(t *testing.T, zone string) { proxies[zone].dropNextUpdate() },
		loseAnswer: func(t *testing.T, zone string) { proxies[zone].lose.Store(true) },
		latency: func(t *testing.T, d time.Duration) {
			for _, p := range proxies {
				p.latency.Store(int64(d))
			}
		},
		writes: func(zone string) (ok, failed int) {
			return int(proxies[zone].ok.Load()), int(proxies[zone].failed.Load())
		},
		pageSize: func(*testing.T, int) string {
			return "named is read one query per managed name (no zone transfer), so a listing has no pages"
		},
		pagesRead:      func() int { return 0 },
		oneTTLPerRRset: "an RRset has one TTL (RFC 2181 §5.2)",
	}
}

// lookup is named's answer for name and type, with its TTLs.
func lookup(t *testing.T, addr, name string, typ uint16) []rec {
	t.Helper()
	q := new(mdns.Msg)
	q.SetQuestion(mdns.Fqdn(name), typ)
	c := &mdns.Client{Net: "tcp", Timeout: 5 * time.Second}
	r, _, err := c.Exchange(q, addr)
	if err != nil {
		t.Fatalf("query %s %s on named: %v", name, mdns.TypeToString[typ], err)
	}
	var out []rec
	for _, rr := range r.Answer {
		h := rr.Header()
		if h.Rrtype != typ {
			continue
		}
		x := rec{name: strings.TrimSuffix(h.Name, "."), typ: mdns.TypeToString[typ], ttl: int(h.Ttl)}
		switch v := rr.(type) {
		case *mdns.A:
			x.content = v.A.String()
		case *mdns.AAAA:
			x.content = v.AAAA.String()
		case *mdns.TXT:
			x.content = strings.Join(v.Txt, "")
		}
		out = append(out, x)
	}
	return out
}

// updateDropper is a TCP proxy in front of named that, when armed, drops
// the connection of the next UPDATE message without forwarding it: the
// client sees the connection closed with no answer, and nothing changed.
// It counts the UPDATEs named applied (NOERROR) and those refused or
// dropped, and delays every answer to a query by latency (a distant
// primary).
type updateDropper struct {
	addr       string
	armed      atomic.Bool
	lose       atomic.Bool // forward the next UPDATE, then drop its answer
	ok, failed atomic.Int64
	latency    atomic.Int64 // a time.Duration
}

func newUpdateDropper(t *testing.T, upstream string) *updateDropper {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &updateDropper{addr: l.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			track(c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.serve(c, upstream, track)
			}()
		}
	}()
	return d
}

func (d *updateDropper) dropNextUpdate() { d.armed.Store(true) }

// serve reads the connection's first message; it drops an UPDATE when
// armed, else forwards it and everything after, both ways.
func (d *updateDropper) serve(c net.Conn, upstream string, track func(net.Conn)) {
	defer c.Close()
	var size [2]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return
	}
	msg := make([]byte, binary.BigEndian.Uint16(size[:]))
	if _, err := io.ReadFull(c, msg); err != nil {
		return
	}
	update := len(msg) > 2 && int(msg[2]>>3&0xF) == mdns.OpcodeUpdate
	if update && d.armed.CompareAndSwap(true, false) {
		d.failed.Add(1)
		return // dropped: closed with no answer
	}
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	track(up)
	defer up.Close()
	if _, err := up.Write(append(size[:], msg...)); err != nil {
		return
	}
	go func() { io.Copy(up, c); up.Close() }()
	for first := true; ; first = false {
		if _, err := io.ReadFull(up, size[:]); err != nil {
			return
		}
		answer := make([]byte, binary.BigEndian.Uint16(size[:]))
		if _, err := io.ReadFull(up, answer); err != nil {
			return
		}
		switch {
		case update && first: // named's answer: its rcode is the low 4 bits of byte 3
			if len(answer) > 3 && answer[3]&0xF == mdns.RcodeSuccess {
				d.ok.Add(1)
			} else {
				d.failed.Add(1)
			}
			if d.lose.CompareAndSwap(true, false) {
				return // applied, and the answer lost
			}
		case !update:
			time.Sleep(time.Duration(d.latency.Load())) // the answer's way back from a distant primary
		}
		if _, err := c.Write(append(size[:], answer...)); err != nil {
			return
		}
	}
}
