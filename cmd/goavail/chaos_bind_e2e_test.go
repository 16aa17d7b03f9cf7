package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/chaos"
	"github.com/goavail/goavail/internal/namedlab"
	"github.com/goavail/goavail/internal/netlab"
)

// chaosProviderEnv chooses the DNS the chaos suite writes to: "" or
// "cloudflare" for the emulator, "rfc2136" for a real named (make chaos
// PROVIDER=rfc2136), "route53" for the Route 53 emulator (make chaos
// PROVIDER=route53).
const chaosProviderEnv = "GOAVAIL_CHAOS_PROVIDER"

// bindLab is the chaos suite's DNS when it runs against BIND: a real named
// on loopback (out of the agents' reach), and a recording proxy on the
// lab's gateway with one listener per agent run, the only way to named.
// named's journal is the commit record; the proxy says which run sent each
// UPDATE and what each run read.
type bindLab struct {
	s       *namedlab.Server
	proxy   *namedlab.Proxy
	ip      string // the gateway: where the listeners are
	initial []chaos.Record
	held    int // holds of an UPDATE in transit armed (kill-writer-mid-batch, late-write)
}

const bindServerPlaceholder = "@RFC2136_SERVER@"

// startBind starts named with the chaos zone (the emulator's seed, as zone
// file lines) and the proxy.
func (c *chaosRun) startBind(lab *netlab.Lab) {
	namedlab.Skip(c.t)
	lines := []string{"www 60 IN TXT \"v=spf1 -all\"", "www 60 IN A 198.51.100.7", "mail 60 IN A " + c.targets[0].V4.String()}
	for _, h := range c.targets {
		lines = append(lines, "www 60 IN A "+h.V4.String())
	}
	s := namedlab.Start(c.t, "example.com", lines...)
	b := &bindLab{s: s, proxy: s.NewProxy(), ip: lab.Gateway().String()}
	c.t.Cleanup(b.proxy.Close)
	for _, l := range lines {
		rr := namedlab.RR(c.t, strings.Replace(l, " ", ".example.com. ", 1))
		b.initial = append(b.initial, chaosRecord(rr))
	}
	c.bind = b
}

// bindConfig turns a chaos agent's Cloudflare config into the RFC 2136
// one; launch puts the run's own proxy listener in its server.
func bindConfig(cfg string) string {
	return strings.Replace(cfg, "[Cloudflare]\n", "[[Records]]\nprovider = \"rfc2136\"\n", 1) +
		fmt.Sprintf("\n[RFC2136]\nserver = %q\ntsig_key_name = %q\n", bindServerPlaceholder, namedlab.KeyName)
}

// runConfig is cfg with a new proxy listener for the run labelled label.
func (b *bindLab) runConfig(c *chaosRun, cfg, label string) string {
	addr, err := b.proxy.Listen(b.ip, label)
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.ReplaceAll(cfg, bindServerPlaceholder, addr)
}

// managed is named's managed records of www.
func (b *bindLab) managed(c *chaosRun) []string {
	var out []string
	for _, ip := range b.s.Lookup(c.t, "www.example.com", "A") {
		if ip != "198.51.100.7" {
			out = append(out, ip)
		}
	}
	slices.Sort(out)
	return out
}

// bindHistory is the run's history with named's journal and the proxy's
// exchanges as its journal and requests (chaos.FromUpdates), and the
// conversion's own violations.
func (c *chaosRun) bindHistory() (chaos.History, []chaos.Violation) {
	h := c.history(nil)
	h.Initial = c.bind.initial
	txns, err := c.bind.s.Journal()
	if err != nil {
		c.t.Fatalf("read named's journal: %v", err)
	}
	var ts []chaos.Txn
	for _, t := range txns {
		ts = append(ts, chaos.Txn{From: uint64(t.From), To: uint64(t.To), Deleted: chaosRecords(t.Deleted), Added: chaosRecords(t.Added)})
	}
	var ex []chaos.DNSExchange
	for _, e := range c.bind.proxy.Exchanges() {
		if x, ok := dnsExchange(e); ok {
			ex = append(ex, x)
		}
	}
	var vs []chaos.Violation
	h.Journal, h.Requests, vs = chaos.FromUpdates("example.com", h.Initial, ex, ts)
	return h, vs
}

// bindFigures are the run's BIND figures: commits in named's journal,
// fence stamps they created, and UPDATEs named refused on their
// prerequisite (NXRRSET or YXRRSET: stale plans).
func (c *chaosRun) bindFigures(h chaos.History) string {
	commits, stamps := 0, 0
	for _, o := range h.Journal {
		if o.Committed {
			commits++
			for _, r := range o.Created {
				if r.Name == h.FenceName && strings.Contains(r.Content, "writer=") {
					stamps++
				}
			}
		}
	}
	refused := map[string]int{}
	for _, e := range c.bind.proxy.Exchanges() {
		if e.Request != nil && e.Request.Opcode == mdns.OpcodeUpdate {
			rc := "no answer"
			if e.Answer != nil {
				rc = mdns.RcodeToString[e.Answer.Rcode]
			}
			if rc != "NOERROR" {
				refused[rc]++
			}
		}
	}
	return fmt.Sprintf("named's journal: %d commits, %d fence stamps; UPDATEs not committed by rcode %v (NXRRSET/YXRRSET: stale, refused by the prerequisite); %d holds of an UPDATE in transit armed",
		commits, stamps, refused, c.bind.held)
}

func chaosProvider() string { return os.Getenv(chaosProviderEnv) }

func chaosRecord(rr mdns.RR) chaos.Record {
	h := rr.Header()
	name := strings.TrimSuffix(strings.ToLower(h.Name), ".")
	typ := mdns.TypeToString[h.Rrtype]
	var content string
	switch v := rr.(type) {
	case *mdns.A:
		content = v.A.String()
	case *mdns.AAAA:
		content = v.AAAA.String()
	case *mdns.TXT:
		content = strings.Join(v.Txt, "")
	default:
		content = strings.TrimPrefix(rr.String(), h.String())
	}
	return chaos.Record{ID: name + "/" + typ + "/" + content, Name: name, Type: typ, Content: content, TTL: int(h.Ttl)}
}

func chaosRecords(rrs []mdns.RR) []chaos.Record {
	out := make([]chaos.Record, 0, len(rrs))
	for _, rr := range rrs {
		if rr.Header().Rrtype != mdns.TypeSOA {
			out = append(out, chaosRecord(rr))
		}
	}
	return out
}

// dnsExchange is what the checker reads of one proxied request: a signed
// query's question and answer, or an UPDATE's prerequisites (its answer section:
// class IN with data, value dependent; class NONE, the RRset does not
// exist; class ANY, it exists whatever its data) and changes (its
// authority section: class IN adds, NONE deletes a record, ANY deletes an
// RRset, written "*").
func dnsExchange(e namedlab.Exchange) (chaos.DNSExchange, bool) {
	if e.Request == nil {
		return chaos.DNSExchange{}, false
	}
	x := chaos.DNSExchange{Agent: e.Label, At: e.At, Answered: e.Answered, Update: e.Request.Opcode == mdns.OpcodeUpdate,
		SerialBefore: uint64(e.SerialBefore), SerialAfter: uint64(e.SerialAfter)}
	if e.Answer != nil {
		x.Rcode = mdns.RcodeToString[e.Answer.Rcode]
	}
	if !x.Update {
		// A plan rests on the provider's TSIG-signed queries; the
		// propagation check's unsigned read-backs are no listing.
		if len(e.Request.Question) != 1 || e.Request.IsTsig() == nil {
			return x, false
		}
		q := e.Request.Question[0]
		x.Name, x.Type = strings.TrimSuffix(strings.ToLower(q.Name), "."), mdns.TypeToString[q.Qtype]
		if e.Answer != nil {
			for _, rr := range e.Answer.Answer {
				if r := chaosRecord(rr); r.Name == x.Name && r.Type == x.Type {
					x.Answer = append(x.Answer, r)
				}
			}
		}
		return x, true
	}
	for _, rr := range e.Request.Answer {
		r := chaosRecord(rr)
		i := slices.IndexFunc(x.Prereqs, func(p chaos.Prereq) bool { return p.Name == r.Name && p.Type == r.Type })
		if i < 0 {
			x.Prereqs = append(x.Prereqs, chaos.Prereq{Name: r.Name, Type: r.Type, Exists: rr.Header().Class != mdns.ClassNONE})
			i = len(x.Prereqs) - 1
		}
		if rr.Header().Class == mdns.ClassINET {
			x.Prereqs[i].Records = append(x.Prereqs[i].Records, r)
		}
	}
	for _, rr := range e.Request.Ns {
		r := chaosRecord(rr)
		switch rr.Header().Class {
		case mdns.ClassINET:
			x.Added = append(x.Added, r)
		case mdns.ClassNONE:
			x.Deleted = append(x.Deleted, r)
		default:
			r.Content, r.ID = "*", r.Name+"/"+r.Type+"/*"
			x.Deleted = append(x.Deleted, r)
		}
	}
	return x, true
}

// holdUpdate holds label's next UPDATE (any run's when label is "") in
// the proxy for d, or until until is closed.
func (c *chaosRun) holdUpdate(label string, d time.Duration, until <-chan struct{}, taken chan<- time.Time) {
	c.bind.held++
	c.bind.proxy.Hold(namedlab.Hold{Label: label, Delay: d, Count: 1, Until: until, Taken: taken})
}

// TestChaosBind_JournalCatchesUnconditional runs the BIND chaos checker's
// pipeline on a real named, with no agents: run r1 reads the fence and
// www A through its proxy listener and sends an UPDATE conditional on
// both (as goavail does); run r2 then sends one with no prerequisite,
// which named commits. From named's journal and the proxy alone, the
// check attributes each commit to its run, passes r1's and reports r2's.
func TestChaosBind_JournalCatchesUnconditional(t *testing.T) {
	s := namedlab.Start(t, "example.com", "www 60 IN A 192.0.2.1", "www 60 IN A 192.0.2.2", "www 60 IN A 192.0.2.3")
	p := s.NewProxy()
	t.Cleanup(p.Close)
	addr1, err1 := p.Listen("127.0.0.1", "r1")
	addr2, err2 := p.Listen("127.0.0.1", "r2")
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	c := &mdns.Client{Net: "tcp", Timeout: 5 * time.Second, TsigSecret: map[string]string{namedlab.KeyName: s.Secret}}
	exchange := func(m *mdns.Msg, addr string) *mdns.Msg {
		t.Helper()
		m.SetTsig(namedlab.KeyName, mdns.HmacSHA256, 300, time.Now().Unix())
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var read []mdns.RR
	for _, q := range []struct {
		name string
		typ  uint16
	}{{"_goavail.example.com.", mdns.TypeTXT}, {"www.example.com.", mdns.TypeA}} {
		m := new(mdns.Msg)
		m.SetQuestion(q.name, q.typ)
		read = exchange(m, addr1).Answer // the last: www A
	}
	rr := func(s string) mdns.RR { return namedlab.RR(t, s) }
	u := new(mdns.Msg)
	u.SetUpdate("example.com.")
	u.Used(read)
	u.RRsetNotUsed([]mdns.RR{&mdns.ANY{Hdr: mdns.RR_Header{Name: "_goavail.example.com.", Rrtype: mdns.TypeTXT}}})
	u.Remove([]mdns.RR{rr("www.example.com. 60 IN A 192.0.2.1")})
	u.Insert([]mdns.RR{rr(`_goavail.example.com. 60 IN TXT "` + dns.GenesisContent + `"`), rr(`_goavail.example.com. 60 IN TXT "writer=r1"`)})
	if r := exchange(u, addr1); r.Rcode != mdns.RcodeSuccess {
		t.Fatalf("r1's update: %s", mdns.RcodeToString[r.Rcode])
	}
	u = new(mdns.Msg)
	u.SetUpdate("example.com.")
	u.Remove([]mdns.RR{rr("www.example.com. 60 IN A 192.0.2.2"), rr(`_goavail.example.com. 60 IN TXT "writer=r1"`)})
	u.Insert([]mdns.RR{rr(`_goavail.example.com. 60 IN TXT "writer=r2"`)})
	if r := exchange(u, addr2); r.Rcode != mdns.RcodeSuccess {
		t.Fatalf("r2's update: %s", mdns.RcodeToString[r.Rcode])
	}

	txns, err := s.Journal()
	if err != nil {
		t.Fatal(err)
	}
	var ts []chaos.Txn
	for _, x := range txns {
		ts = append(ts, chaos.Txn{From: uint64(x.From), To: uint64(x.To), Deleted: chaosRecords(x.Deleted), Added: chaosRecords(x.Added)})
	}
	var ex []chaos.DNSExchange
	for _, e := range p.Exchanges() {
		if x, ok := dnsExchange(e); ok {
			ex = append(ex, x)
		}
	}
	initial := chaosRecords([]mdns.RR{rr("www.example.com. 60 IN A 192.0.2.1"), rr("www.example.com. 60 IN A 192.0.2.2"), rr("www.example.com. 60 IN A 192.0.2.3")})
	h := chaos.History{Initial: initial, Hostnames: []string{"www.example.com"}, Addrs: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}, FenceName: "_goavail.example.com"}
	var vs []chaos.Violation
	h.Journal, h.Requests, vs = chaos.FromUpdates("example.com", initial, ex, ts)
	vs = append(vs, chaos.CheckUpdateJournal(h)...)
	var commits []string
	for _, o := range h.Journal {
		if o.Committed {
			commits = append(commits, fmt.Sprintf("%s %d->%d", o.Agent, o.Base, o.Version))
		}
	}
	if !slices.Equal(commits, []string{"r1 1->2", "r2 2->3"}) {
		t.Errorf("commits = %v, want r1's and r2's", commits)
	}
	rep := chaos.Report(vs)
	for _, want := range []string{"unconditional write: r2's UPDATE", "no prerequisite on www.example.com A", "no prerequisite on _goavail.example.com TXT"} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
	t.Log(rep)
	if strings.Contains(rep, "r1's") {
		t.Errorf("r1's conditional update reported:\n%s", rep)
	}
}
