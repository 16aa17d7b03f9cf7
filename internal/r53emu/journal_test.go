package r53emu

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/chaos"
)

// agentKey signs requests as one agent (AddKey's label).
type agentKey struct{ id, secret string }

func (k agentKey) list(t *testing.T, s *Server, zid string) {
	t.Helper()
	if code, body := do(t, s, k.id, k.secret, "GET", "/2013-04-01/hostedzone/"+zid+"/rrset", ""); code != 200 {
		t.Fatalf("list: %d %s", code, body)
	}
}

func (k agentKey) post(t *testing.T, s *Server, zid string, changes ...string) {
	t.Helper()
	body := `<?xml version="1.0" encoding="UTF-8"?><ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes>` +
		strings.Join(changes, "") + `</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`
	if code, body := do(t, s, k.id, k.secret, "POST", "/2013-04-01/hostedzone/"+zid+"/rrset/", body); code != 200 {
		t.Fatalf("change: %d %s", code, body)
	}
}

func xmlSet(action, name, id, weight string, ttl int, values ...string) string {
	var b strings.Builder
	b.WriteString("<Change><Action>" + action + "</Action><ResourceRecordSet><Name>" + name + "</Name>")
	typ := "A"
	if strings.HasPrefix(name, "_goavail") {
		typ = "TXT"
	}
	b.WriteString("<Type>" + typ + "</Type>")
	if id != "" {
		b.WriteString("<SetIdentifier>" + id + "</SetIdentifier><Weight>" + weight + "</Weight>")
	}
	b.WriteString("<TTL>" + strconv.Itoa(ttl) + "</TTL><ResourceRecords>")
	for _, v := range values {
		b.WriteString("<ResourceRecord><Value>" + v + "</Value></ResourceRecord>")
	}
	b.WriteString("</ResourceRecords></ResourceRecordSet></Change>")
	return b.String()
}

func stampValue(writer string, at time.Time) string {
	return `"` + dns.FenceStamp{Deployment: "d", Writer: writer, Term: 1, At: at}.Content() + `"`
}

// TestJournal_ChaosChecks runs the chaos checker's journal-only checks on
// two scripted Route 53 histories turned into chaos.Op by Ops: a clean
// one (x removes an address carrying the fence, y restores it exactly) has
// no violation; in the other, x's write is planned on a listing that y's
// commit made stale, and lands (it does not carry the fence): the checker
// reports the stale write (f).
func TestJournal_ChaosChecks(t *testing.T) {
	genesis := `"` + dns.GenesisContent + `"`
	setup := func() (*Server, string, agentKey, agentKey, []chaos.Record) {
		s := New()
		t.Cleanup(s.Close)
		zid := s.AddZone("example.com")
		s.Seed("example.com", RRSet{Name: "www.example.com", Type: "A", SetIdentifier: "www", Weight: aws.Int64(0), TTL: aws.Int64(120), Values: []string{"198.18.0.1", "198.18.0.2"}})
		s.Seed("example.com", RRSet{Name: "api.example.com", Type: "A", TTL: aws.Int64(60), Values: []string{"198.18.0.5"}})
		s.Seed("example.com", RRSet{Name: "_goavail.example.com", Type: "TXT", TTL: aws.Int64(60), Values: []string{genesis}})
		initial := Records(s.Sets("example.com"))
		s.StartJournal()
		xi, xs := s.AddKey("x#1")
		yi, ys := s.AddKey("y#1")
		return s, zid, agentKey{xi, xs}, agentKey{yi, ys}, initial
	}
	history := func(s *Server, initial []chaos.Record) chaos.History {
		return chaos.History{Initial: initial, Journal: Ops(s.Journal()), Hostnames: []string{"www.example.com", "api.example.com"},
			Addrs: []string{"198.18.0.1", "198.18.0.2", "198.18.0.5"}, FenceName: "_goavail.example.com", Bound: time.Minute}
	}
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

	t.Run("clean", func(t *testing.T) {
		s, zid, x, y, initial := setup()
		x.list(t, s, zid)
		x.post(t, s, zid,
			xmlSet("DELETE", "www.example.com.", "www", "0", 120, "198.18.0.1", "198.18.0.2"), xmlSet("CREATE", "www.example.com.", "www", "0", 120, "198.18.0.2"),
			xmlSet("DELETE", "_goavail.example.com.", "", "", 60, genesis), xmlSet("CREATE", "_goavail.example.com.", "", "", 60, genesis, stampValue("x", t0)))
		y.list(t, s, zid)
		y.post(t, s, zid,
			xmlSet("DELETE", "www.example.com.", "www", "0", 120, "198.18.0.2"), xmlSet("CREATE", "www.example.com.", "www", "0", 120, "198.18.0.2", "198.18.0.1"),
			xmlSet("DELETE", "_goavail.example.com.", "", "", 60, genesis, stampValue("x", t0)), xmlSet("CREATE", "_goavail.example.com.", "", "", 60, genesis, stampValue("y", t0.Add(time.Second))))
		h := history(s, initial)
		if n := len(h.Journal); n != 4 {
			t.Fatalf("%d ops, want 2 listings and 2 commits: %+v", n, h.Journal)
		}
		if c := h.Journal[1]; len(c.Deleted) != 1 || c.Deleted[0].Content != "198.18.0.1" || len(c.Created) != 1 || !strings.HasPrefix(c.Created[0].Content, dns.FencePrefix+" v1") {
			t.Errorf("x's commit as an op: deleted %v, created %v; want .1 deleted and a stamp created (kept values neither)", c.Deleted, c.Created)
		}
		if vs := chaos.CheckJournal(h); len(vs) != 0 {
			t.Fatalf("violations in a clean history:\n%s", chaos.Report(vs))
		}
	})

	t.Run("stale write", func(t *testing.T) {
		s, zid, x, y, initial := setup()
		x.list(t, s, zid)
		y.list(t, s, zid)
		y.post(t, s, zid,
			xmlSet("DELETE", "api.example.com.", "", "", 60, "198.18.0.5"), xmlSet("CREATE", "api.example.com.", "", "", 30, "198.18.0.5"),
			xmlSet("DELETE", "_goavail.example.com.", "", "", 60, genesis), xmlSet("CREATE", "_goavail.example.com.", "", "", 60, genesis, stampValue("y", t0)))
		// x's write, planned on its listing before y's commit, without the fence.
		x.post(t, s, zid, xmlSet("DELETE", "www.example.com.", "www", "0", 120, "198.18.0.1", "198.18.0.2"), xmlSet("CREATE", "www.example.com.", "www", "0", 120, "198.18.0.2"))
		vs := chaos.CheckJournal(history(s, initial))
		found := false
		for _, v := range vs {
			found = found || v.Invariant == "f" && strings.Contains(v.Detail, "stale write: x#1's write")
		}
		if !found {
			t.Fatalf("the stale write is not reported; violations:\n%s", chaos.Report(vs))
		}
	})
}
