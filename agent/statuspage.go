package agent

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/history"
)

// The status page: GET / on http_listen, read-only HTML rendered on the
// server from /status's document, the config's groups, the sparkline rings
// (sparkline.go) and the history. No script, no external asset: the
// Content-Security-Policy allows only the page's own stylesheet.

//go:embed web/status.html web/status.css
var webFiles embed.FS

// pageRows is how many addresses one page lists in its groups; the
// addresses not up are listed first on every page, up to pageRows too.
const pageRows = 500

// pageRefresh is how often the page reloads itself, in seconds.
const pageRefresh = 10

// pageEvents is how many history events the timeline shows.
const pageEvents = 50

// statusPage renders the page.
type statusPage struct {
	tmpl *template.Template
	css  template.CSS
	csp  string
}

func newStatusPage() *statusPage {
	css, err := webFiles.ReadFile("web/status.css")
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	sum := sha256.Sum256(css)
	return &statusPage{
		tmpl: template.Must(template.New("status.html").Funcs(template.FuncMap{"round": roundDuration}).ParseFS(webFiles, "web/status.html")),
		css:  template.CSS(css),
		csp: "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; img-src 'none'; " +
			"base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	}
}

type pageRow struct {
	Addr, State, Agreed, Since, Loss, RTT, Reason, Peers string
	Drained                                              bool
	Spark                                                template.HTML
}

type pageGroup struct {
	Zone, Hostnames string
	Up, Down, Other int
	Open            bool
	Rows            []pageRow
	More            int
}

type pagePeer struct{ Name, Fresh string }

type pageData struct {
	Doc                        StatusDoc
	CSS                        template.CSS
	Refresh                    int
	Now, Role                  string
	Foreign                    []string
	Peers                      []pagePeer
	Problems                   []pageRow
	ProblemCount, ProblemsMore int
	Groups                     []pageGroup
	Page, Pages                int
	Prev, Next                 string
	Events                     []string
}

// pageInput is what one rendering reads.
type pageInput struct {
	doc    StatusDoc
	groups []config.Group
	sparks *sparks
	events []history.Event // oldest first
	stale  map[string]string
	now    time.Time
	page   int // from 1
}

func (p *statusPage) render(w io.Writer, in pageInput) error {
	d := pageData{Doc: in.doc, CSS: p.css, Refresh: pageRefresh, Now: in.now.UTC().Format("2006-01-02 15:04:05 UTC"), Role: role(in.doc)}
	for _, f := range dnsForeign(in.doc) {
		d.Foreign = append(d.Foreign, fmt.Sprintf("Zone %s: its fence was last written by deployment %q (writer %s); this agent holds its writes.", f.Zone, f.Deployment, f.Writer))
	}
	for _, m := range in.doc.Members {
		if m != in.doc.Node {
			d.Peers = append(d.Peers, pagePeer{m, peerFreshness(m, in.doc.Voters, in.stale)})
		}
	}
	targets := map[string]TargetDoc{}
	for _, t := range in.doc.Targets {
		targets[t.Addr] = t
		if t.State != "up" || t.Agreed == "down" {
			d.ProblemCount++
			if len(d.Problems) < pageRows {
				d.Problems = append(d.Problems, row(t, in))
			}
		}
	}
	d.ProblemsMore = d.ProblemCount - len(d.Problems)
	total := 0
	for _, g := range in.groups {
		total += len(g.Addrs)
	}
	d.Pages = max(1, (total+pageRows-1)/pageRows)
	d.Page = min(max(in.page, 1), d.Pages)
	if d.Page > 1 {
		d.Prev = "/?page=" + strconv.Itoa(d.Page-1)
	}
	if d.Page < d.Pages {
		d.Next = "/?page=" + strconv.Itoa(d.Page+1)
	}
	first, last, i := (d.Page-1)*pageRows, d.Page*pageRows, 0
	for _, g := range in.groups {
		pg := pageGroup{Zone: g.Zone, Hostnames: strings.Join(g.Hostnames, " ")}
		for _, a := range g.Addrs {
			t, ok := targets[a.String()]
			switch {
			case !ok:
				pg.Other++
			case t.State == "up":
				pg.Up++
			case t.State == "down":
				pg.Down++
			default:
				pg.Other++
			}
			if i >= first && i < last {
				if !ok {
					t = TargetDoc{Addr: a.String(), State: "unknown", Agreed: "unknown"}
				}
				pg.Rows = append(pg.Rows, row(t, in))
			} else {
				pg.More++
			}
			i++
		}
		if len(pg.Rows) == 0 {
			continue
		}
		pg.Open = len(g.Addrs) <= 50 || pg.Down > 0
		d.Groups = append(d.Groups, pg)
	}
	for _, e := range slices.Backward(in.events) {
		if len(d.Events) == pageEvents {
			break
		}
		d.Events = append(d.Events, e.Line())
	}
	return p.tmpl.Execute(w, d)
}

func row(t TargetDoc, in pageInput) pageRow {
	r := pageRow{Addr: t.Addr, State: t.State, Agreed: t.Agreed, Drained: t.Drained, Since: ago(t.Since, in.now), Reason: reason(t)}
	if t.Ev.Probes > 0 {
		r.Loss = fmt.Sprintf("%.0f%% (%d/%d)", t.Loss*100, t.Ev.Lost, t.Ev.Probes)
	}
	if t.RTT > 0 {
		r.RTT = t.RTT.Round(10 * time.Microsecond).String()
	}
	var peers []string
	for n, s := range t.Peers {
		peers = append(peers, n+" "+s)
	}
	slices.Sort(peers)
	r.Peers = strings.Join(peers, ", ")
	if a, err := netip.ParseAddr(t.Addr); err == nil && in.sparks != nil {
		r.Spark = sparkSVG(in.sparks.hour(a, in.now))
	}
	return r
}

// reason words why an address is in its state: the check's reason, the
// send error, or the probes lost.
func reason(t TargetDoc) string {
	var parts []string
	for _, c := range t.Checks {
		if c.Reason != "" && c.State != "up" {
			parts = append(parts, c.Check+": "+c.Reason)
		}
	}
	if t.Ev.LastError != "" && !slices.ContainsFunc(parts, func(p string) bool { return strings.HasSuffix(p, t.Ev.LastError) }) {
		parts = append(parts, t.Ev.LastError)
	}
	if len(parts) == 0 && t.Ev.Lost > 0 {
		parts = append(parts, fmt.Sprintf("lost %d of the last %d probes, %d in a row", t.Ev.Lost, t.Ev.Probes, t.Ev.FailRun))
	}
	return strings.Join(parts, "; ")
}

func ago(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

func role(doc StatusDoc) string {
	switch {
	case doc.Isolated:
		return "abstaining"
	case doc.IsWriter:
		return "writer"
	case !doc.Quorate:
		return "no quorum"
	}
	return "standby"
}

func peerFreshness(name string, voters []string, stale map[string]string) string {
	if s, ok := stale[name]; ok {
		return s
	}
	if slices.Contains(voters, name) {
		return "votes: its view is fresh"
	}
	return "not voting"
}

func dnsForeign(doc StatusDoc) []dns.ForeignFence {
	if doc.DNS == nil {
		return nil
	}
	return doc.DNS.Foreign
}

// pageRoutes serves GET / (and GET /?page=N).
func pageRoutes(a *Agent) func(*http.ServeMux) {
	p := newStatusPage()
	return func(mux *http.ServeMux) {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			page, _ := strconv.Atoi(r.URL.Query().Get("page"))
			var buf bytes.Buffer
			if err := p.render(&buf, a.pageInput(page)); err != nil {
				http.Error(w, "rendering the status page: "+err.Error(), http.StatusInternalServerError)
				return
			}
			h := w.Header()
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Content-Security-Policy", p.csp)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cache-Control", "no-store")
			w.Write(buf.Bytes())
		})
	}
}

// pageInput gathers what the page shows.
func (a *Agent) pageInput(page int) pageInput {
	a.mu.Lock()
	groups := a.cfg.Groups
	a.mu.Unlock()
	in := pageInput{doc: a.Status(), groups: groups, sparks: a.sparks, now: time.Now(), page: page, stale: map[string]string{}}
	d := a.clu.Decision()
	for _, n := range d.Stale {
		in.stale[n] = "stale: no fresh view"
	}
	for _, n := range d.Dead {
		in.stale[n] = "unreachable"
	}
	for _, n := range d.Abstaining {
		in.stale[n] = "abstains (isolation guard)"
	}
	for _, n := range d.Duplicates {
		in.stale[n] = "shares its node name: not voting"
	}
	if a.hist != nil {
		in.events, _ = a.hist.rec.Query(history.Filter{Since: in.now.Add(-24 * time.Hour), Limit: pageEvents})
	}
	return in
}

// roundDuration shows a duration to the millisecond (to the microsecond
// below one).
func roundDuration(d time.Duration) string {
	if d < time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
