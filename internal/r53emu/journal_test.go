package r53emu

import (
	"slices"
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
		if vs := append(chaos.CheckJournal(h), chaos.CheckSetJournal(h)...); len(vs) != 0 {
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
		for _, check := range []func(chaos.History) []chaos.Violation{chaos.CheckJournal, chaos.CheckSetJournal} {
			vs := check(history(s, initial))
			stale, fence := false, false
			for _, v := range vs {
				stale = stale || v.Invariant == "f" && strings.Contains(v.Detail, "stale write: x#1's write")
				fence = fence || v.Invariant == "g" && strings.Contains(v.Detail, "a write from x#1 created 0 fence records")
			}
			if !stale || !fence {
				t.Fatalf("the stale write (f) or its missing fence (g) is not reported; violations:\n%s", chaos.Report(vs))
			}
		}
	})

	// The chaos suite's late write: x's batch, planned and fenced on what
	// it read, is held in transit (the fault's Taken says when) while y
	// commits; then it is served, and the exact DELETE of the fence set
	// refuses it. The journal holds y's commit only, and the checks pass.
	t.Run("late write refused", func(t *testing.T) {
		s, zid, x, y, initial := setup()
		x.list(t, s, zid)
		taken, release := make(chan time.Time, 1), make(chan struct{})
		s.Inject(Fault{Method: "POST", PathContains: "/rrset", Agent: "x#1", Until: release, Count: 1, Taken: taken})
		type answer struct {
			code int
			body string
		}
		late := make(chan answer, 1)
		go func() {
			body := `<?xml version="1.0" encoding="UTF-8"?><ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes>` +
				xmlSet("DELETE", "www.example.com.", "www", "0", 120, "198.18.0.1", "198.18.0.2") + xmlSet("CREATE", "www.example.com.", "www", "0", 120, "198.18.0.2") +
				xmlSet("DELETE", "_goavail.example.com.", "", "", 60, genesis) + xmlSet("CREATE", "_goavail.example.com.", "", "", 60, genesis, stampValue("x", t0)) +
				`</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`
			code, b := do(t, s, x.id, x.secret, "POST", "/2013-04-01/hostedzone/"+zid+"/rrset/", body)
			late <- answer{code, b}
		}()
		<-taken
		y.list(t, s, zid)
		y.post(t, s, zid,
			xmlSet("DELETE", "_goavail.example.com.", "", "", 60, genesis), xmlSet("CREATE", "_goavail.example.com.", "", "", 60, genesis, stampValue("y", t0.Add(time.Second))))
		close(release)
		if a := <-late; a.code != 400 || !strings.Contains(a.body, "InvalidChangeBatch") {
			t.Fatalf("x's late batch answered %d %s, want 400 InvalidChangeBatch", a.code, a.body)
		}
		h := history(s, initial)
		var commits []string
		for _, o := range h.Journal {
			if o.Committed {
				commits = append(commits, o.Agent)
			}
		}
		if !slices.Equal(commits, []string{"y#1"}) {
			t.Errorf("commits by %v, want y#1's only", commits)
		}
		if vs := chaos.CheckSetJournal(h); len(vs) != 0 {
			t.Fatalf("violations with the late write refused:\n%s", chaos.Report(vs))
		}
	})
}
