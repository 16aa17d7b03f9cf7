package agent

import (
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/history"
	"github.com/goavail/goavail/monitor"
)

// pageAt builds a page input of n addresses in groups of 100, one in 100
// down, every address with an hour of probes in its sparkline ring.
func pageAt(n int, now time.Time) pageInput {
	in := pageInput{now: now, sparks: newSparks(), stale: map[string]string{"n3": "stale: no fresh view"}, page: 1,
		doc: StatusDoc{Node: "n1", Version: "v1.4.0", Members: []string{"n1", "n2", "n3"}, Voters: []string{"n1", "n2"}, Writer: "n1", IsWriter: true, Quorate: true, WriterTerm: 4}}
	for i := range n {
		a := netip.AddrFrom4([4]byte{198, 18, byte(i / 250), byte(i%250 + 1)})
		if i%100 == 0 {
			in.groups = append(in.groups, config.Group{Zone: "example.com", Hostnames: []string{fmt.Sprintf("app%d.example.com", i/100)}})
		}
		g := &in.groups[len(in.groups)-1]
		g.Addrs = append(g.Addrs, a)
		t := TargetDoc{Addr: a.String(), State: "up", Agreed: "up", Since: now.Add(-time.Hour), RTT: 2 * time.Millisecond, Ev: monitor.Evidence{Probes: 64}}
		if i%100 == 7 {
			t.State, t.Agreed, t.Ev = "down", "down", monitor.Evidence{Probes: 64, Lost: 12, FailRun: 12}
		}
		in.doc.Targets = append(in.doc.Targets, t)
		for m := range 60 {
			at := now.Add(-time.Duration(m) * time.Minute)
			in.sparks.observe(a, true, time.Duration(1500+m*20)*time.Microsecond, at)
			if i%100 == 7 { // half its probes lost: amber
				in.sparks.observe(a, false, 0, at)
			}
		}
	}
	for i := range 80 {
		in.events = append(in.events, history.Event{At: now.Add(time.Duration(i-80) * time.Second), Kind: history.KindTransition, Node: "n1", Address: "198.18.0.8", From: "up", To: "down"})
	}
	return in
}

// TestStatusPage_ShowsProblemsAndLoadsNothing renders a page: the down
// address is listed with its reason, the timeline is there, the page is
// paged, and nothing in it loads from elsewhere or runs.
func TestStatusPage_ShowsProblemsAndLoadsNothing(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	in := pageAt(2500, now)
	in.events = append(in.events, history.Event{At: now, Kind: history.KindDNS, Node: "n1", Mode: "applied", Action: "delete", Name: "app0.example.com", Type: "A", Content: "198.18.0.8", Zone: "example.com"})
	var b bytes.Buffer
	if err := newStatusPage().render(&b, in); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		`<tr id="p-198.18.0.8"><td class="mono">198.18.0.8</td><td class="down">down</td><td>1h0m0s ago</td><td>lost 12 of the last 64 probes, 12 in a row</td>`,
		"applied delete app0.example.com A 198.18.0.8 in example.com",
		"page 1 of 5", `href="/?page=2"`, "Peer n3</th><td>stale: no fresh view", "lease term 4",
		`<meta http-equiv="refresh" content="10">`, "<svg class=\"spark\"", `fill="#e90"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if n := strings.Count(page, "<li>"); n != pageEvents {
		t.Errorf("timeline of %d events, want %d", n, pageEvents)
	}
	if regexp.MustCompile(`(?i)<script|\bsrc=|https?://|<form|<link|method=`).MatchString(page) {
		t.Errorf("the page loads, runs or posts something: %s", regexp.MustCompile(`(?i)<script|\bsrc=|https?://|<form|<link|method=`).FindString(page))
	}
	if strings.Contains(page, ` style="`) {
		t.Error("an inline style attribute: the CSP (style-src by hash) refuses it")
	}
	in.page = 5
	b.Reset()
	newStatusPage().render(&b, in)
	if !strings.Contains(b.String(), "app24.example.com") || strings.Contains(b.String(), "app0.example.com</strong>") {
		t.Error("page 3 does not hold the last groups alone")
	}
}

// BenchmarkStatusPage renders the page at 10,000 addresses (100 down) and
// reports its size.
func BenchmarkStatusPage(b *testing.B) {
	in := pageAt(10000, time.Now())
	p := newStatusPage()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := p.render(&buf, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/page")
}
