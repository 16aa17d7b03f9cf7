package namedlab

import (
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// TestProxyAndJournal sends a query and two TSIG-signed UPDATEs through
// the recording proxy (one held in transit, one refused by its
// prerequisite): the proxy records each with its label and rcode, the
// held one later than it arrived, and named's journal has the one commit,
// serial 1 to 2, with what it deleted and added.
func TestProxyAndJournal(t *testing.T) {
	s := Start(t, "example.com", "www 60 IN A 192.0.2.1", "www 60 IN A 192.0.2.2")
	p := s.NewProxy()
	t.Cleanup(p.Close)
	addr, err := p.Listen("127.0.0.1", "run-1")
	if err != nil {
		t.Fatal(err)
	}
	c := &mdns.Client{Net: "tcp", Timeout: 5 * time.Second, TsigSecret: map[string]string{KeyName: s.Secret}}
	q := new(mdns.Msg)
	q.SetQuestion("www.example.com.", mdns.TypeA)
	if r, _, err := c.Exchange(q, addr); err != nil || len(r.Answer) != 2 {
		t.Fatalf("query through the proxy: %v %v", r, err)
	}
	update := func(prereq string) int {
		m := new(mdns.Msg)
		m.SetUpdate("example.com.")
		m.Used([]mdns.RR{RR(t, prereq), RR(t, "www.example.com. 0 IN A 192.0.2.2")})
		m.Remove([]mdns.RR{RR(t, "www.example.com. 60 IN A 192.0.2.1")})
		m.Insert([]mdns.RR{RR(t, "www.example.com. 60 IN A 192.0.2.3")})
		m.SetTsig(KeyName, mdns.HmacSHA256, 300, time.Now().Unix())
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			t.Fatalf("update through the proxy: %v", err)
		}
		return r.Rcode
	}
	taken := make(chan time.Time, 1)
	p.Hold(Hold{Label: "run-1", Delay: 300 * time.Millisecond, Count: 1, Taken: taken})
	if rc := update("www.example.com. 0 IN A 192.0.2.1"); rc != mdns.RcodeSuccess {
		t.Fatalf("first update: %s", mdns.RcodeToString[rc])
	}
	select {
	case <-taken:
	default:
		t.Error("the hold took no UPDATE")
	}
	if rc := update("www.example.com. 0 IN A 192.0.2.1"); rc != mdns.RcodeNXRrset {
		t.Errorf("stale update: %s, want NXRRSET", mdns.RcodeToString[rc])
	}
	ex := p.Exchanges()
	if len(ex) != 3 {
		t.Fatalf("recorded %d exchanges, want 3: %+v", len(ex), ex)
	}
	if ex[0].Label != "run-1" || ex[0].SerialBefore != 1 || ex[0].SerialAfter != 1 || len(ex[0].Answer.Answer) != 2 {
		t.Errorf("query recorded as %+v", ex[0])
	}
	if ex[1].Answer.Rcode != mdns.RcodeSuccess || ex[1].Sent.Sub(ex[1].At) < 300*time.Millisecond || ex[1].Request.Opcode != mdns.OpcodeUpdate {
		t.Errorf("held update recorded as %+v", ex[1])
	}
	if ex[2].Answer.Rcode != mdns.RcodeNXRrset {
		t.Errorf("refused update recorded with rcode %s", mdns.RcodeToString[ex[2].Answer.Rcode])
	}
	txns, err := s.Journal()
	if err != nil {
		t.Fatal(err)
	}
	if len(txns) != 1 || txns[0].From != 1 || txns[0].To != 2 || len(txns[0].Deleted) != 1 || len(txns[0].Added) != 1 ||
		txns[0].Deleted[0].(*mdns.A).A.String() != "192.0.2.1" || txns[0].Added[0].(*mdns.A).A.String() != "192.0.2.3" {
		t.Errorf("journal = %+v", txns)
	}
}
