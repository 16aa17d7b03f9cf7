package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/monitor"
)

// statusDoc is what /status serves and goavail status renders. It holds
// no secret: no key, token or credential is ever part of it.
type statusDoc struct {
	Node     string            `json:"node"`
	Version  string            `json:"version"`
	DryRun   bool              `json:"dry_run"`
	Members  []string          `json:"members"`
	Writer   string            `json:"writer"`
	IsWriter bool              `json:"is_writer"`
	Quorate  bool              `json:"quorate"`
	Voters   []string          `json:"voters"`
	Isolated bool              `json:"isolated"`
	Dropped  map[string]uint64 `json:"dropped_messages,omitempty"`
	Targets  []targetDoc       `json:"targets"`
	Drains   []drainEntry      `json:"drains,omitempty"` // drained addresses: by whom, when, why
	Pass     *passDoc          `json:"last_pass,omitempty"`

	// WriterTerm is the highest writer-lease term this agent knows.
	WriterTerm uint64 `json:"writer_term,omitempty"`
	// NameConflicts are node names two agents use at once; while one is
	// this agent's own, it neither votes nor writes.
	NameConflicts []conflictDoc `json:"name_conflicts,omitempty"`
	// DNS is the quarantine and propagation part (dnschanges.go).
	DNS *dnsStatus `json:"dns,omitempty"`
}

type conflictDoc struct {
	NodeName  string   `json:"node_name"`
	Addresses []string `json:"addresses"`
	ThisAgent bool     `json:"this_agent"`
	Error     string   `json:"error"`
}

type targetDoc struct {
	Addr   string            `json:"address"`
	State  string            `json:"state"`
	Since  time.Time         `json:"since,omitzero"`
	Agreed string            `json:"agreed"`
	RTT    time.Duration     `json:"rtt_ns,omitempty"`
	Loss   float64           `json:"loss"`
	Ev     monitor.Evidence  `json:"evidence"`
	Peers  map[string]string `json:"peers,omitempty"` // node -> state in its latest view
	// Drained: an operator or the config took the address out of DNS.
	Drained bool `json:"drained,omitempty"`
}

type passDoc struct {
	At       time.Time `json:"at"`
	Duration string    `json:"duration"`
	Mode     string    `json:"mode"`
	Error    string    `json:"error,omitempty"`
	Plans    []planDoc `json:"plans"`
}

type planDoc struct {
	Zone     string   `json:"zone"`
	Creates  []string `json:"creates,omitempty"`
	Deletes  []string `json:"deletes,omitempty"`
	FailOpen []string `json:"fail_open,omitempty"`
	Deferred []string `json:"deferred,omitempty"` // removals held back by max_removals
	Failed   []string `json:"failed,omitempty"`   // not made this pass (API error); retried
	Blocked  []string `json:"blocked,omitempty"`  // removals held: the name's restore was not made
	Applied  bool     `json:"applied"`
}

func buildStatus(node string, dryRun bool, tracker *monitor.Tracker, clu *cluster.Cluster, rec *dns.Reconciler, drains map[netip.Addr]drainEntry) statusDoc {
	d := clu.Decision()
	isWriter, writer := clu.IsWriter()
	ver, _ := buildVersion()
	doc := statusDoc{Node: node, Version: ver, DryRun: dryRun, Members: clu.Members(), Writer: writerName(d, writer), IsWriter: isWriter,
		Quorate: d.Quorate, Voters: d.Voters, Isolated: d.LocalIsolated, Dropped: clu.Dropped(), WriterTerm: clu.Term()}
	for _, k := range clu.Conflicts() {
		doc.NameConflicts = append(doc.NameConflicts, conflictDoc{NodeName: k.Name, Addresses: k.Addrs, ThisAgent: k.Local,
			Error: fmt.Sprintf("two agents use node_name %q (at %s): give each agent its own node_name", k.Name, strings.Join(k.Addrs, " and "))})
	}
	for _, e := range drains {
		doc.Drains = append(doc.Drains, e)
	}
	slices.SortFunc(doc.Drains, func(a, b drainEntry) int { return a.Addr.Compare(b.Addr) })
	peers := map[string]map[netip.Addr]monitor.State{}
	for name, v := range clu.PeerViews() {
		peers[name] = v.States()
	}
	for _, s := range tracker.Snapshot() {
		_, drained := drains[s.Addr]
		t := targetDoc{Addr: s.Addr.String(), State: s.State.String(), Since: s.Since, Agreed: d.States[s.Addr].String(), Loss: s.Evidence.Loss(), Ev: s.Evidence, Drained: drained}
		if n := len(s.Evidence.RTTs); n > 0 {
			t.RTT = s.Evidence.RTTs[n-1]
		}
		for name, states := range peers {
			if st, ok := states[s.Addr]; ok {
				if t.Peers == nil {
					t.Peers = map[string]string{}
				}
				t.Peers[name] = st.String()
			}
		}
		doc.Targets = append(doc.Targets, t)
	}
	slices.SortFunc(doc.Targets, func(a, b targetDoc) int { return strings.Compare(a.Addr, b.Addr) })
	if last := rec.Last(); !last.At.IsZero() {
		p := &passDoc{At: last.At, Duration: last.Duration.Round(time.Microsecond).String(), Mode: last.Mode}
		if last.Err != nil {
			p.Error = last.Err.Error()
		}
		for _, zp := range last.Plans {
			pd := planDoc{Zone: zp.Zone, FailOpen: zp.FailOpen, Applied: zp.Applied}
			for _, c := range zp.Creates {
				pd.Creates = append(pd.Creates, c.Name+" "+c.Type+" "+c.Content)
			}
			for _, r := range zp.Deletes {
				pd.Deletes = append(pd.Deletes, r.Name+" "+r.Type+" "+r.Content)
			}
			for _, r := range zp.Deferred {
				pd.Deferred = append(pd.Deferred, r.Name+" "+r.Type+" "+r.Content)
			}
			for _, f := range zp.Failed {
				pd.Failed = append(pd.Failed, f.Action+" "+f.Record.String()+": "+f.Err)
			}
			for _, r := range zp.Blocked {
				pd.Blocked = append(pd.Blocked, r.String())
			}
			p.Plans = append(p.Plans, pd)
		}
		doc.Pass = p
	}
	return doc
}

// statusCmd fetches /status from a running agent and prints it.
func statusCmd(ctx context.Context, t agentTarget, asJSON bool, stdout io.Writer) error {
	url := t.url + "/status"
	body, err := getAgent(ctx, url)
	if err != nil {
		return err
	}
	var doc statusDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return &exitError{exitRuntime, fmt.Errorf("%s: not a goavail status document: %w", url, err)}
	}
	if err := t.checkNode(doc.Node); err != nil {
		return err
	}
	if asJSON {
		_, err := stdout.Write(body)
		return err
	}
	renderStatus(stdout, doc)
	return nil
}

// getAgent GETs url from a running agent.
func getAgent(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &exitError{exitConfig, fmt.Errorf("--addr: %w", err)}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, &exitError{exitRuntime, fmt.Errorf("no goavail answering at %s (is http_listen set, and the agent running?): %w", url, err)}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil || res.StatusCode != http.StatusOK {
		return nil, &exitError{exitRuntime, fmt.Errorf("%s answered %s: %v", url, res.Status, err)}
	}
	return body, nil
}

// renderStatus prints the document as tables.
func renderStatus(w io.Writer, doc statusDoc) {
	role := "standby"
	switch {
	case doc.IsWriter:
		role = "writer"
	case !doc.Quorate:
		role = "no quorum"
	}
	mode := "acting"
	if doc.DryRun {
		mode = "dry-run"
	}
	if doc.Isolated {
		role = "abstaining"
	}
	fmt.Fprintf(w, "node %s (%s, %s, %s)\n", doc.Node, doc.Version, role, mode)
	fmt.Fprintf(w, "members %s; voters %s; writer %s\n", strings.Join(doc.Members, " "), orNone(doc.Voters), doc.Writer)
	if doc.Isolated {
		fmt.Fprintln(w, "this agent abstains: it sees nearly every target down or losing its latest probes, so it blames its own network and changes nothing")
	}
	for _, k := range doc.NameConflicts {
		fmt.Fprintln(w, "ERROR:", k.Error)
	}
	var peers []string
	for _, t := range doc.Targets {
		for p := range t.Peers {
			if !slices.Contains(peers, p) {
				peers = append(peers, p)
			}
		}
	}
	slices.Sort(peers)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "ADDRESS\tSTATE\tSINCE\tRTT\tLOSS\tAGREED")
	for _, p := range peers {
		fmt.Fprint(tw, "\t"+p)
	}
	fmt.Fprintln(tw)
	for _, t := range doc.Targets {
		since, rtt := "-", "-"
		if !t.Since.IsZero() {
			since = t.Since.UTC().Format(time.RFC3339)
		}
		if t.RTT > 0 {
			rtt = t.RTT.Round(time.Microsecond).String()
		}
		agreed := t.Agreed
		if t.Drained {
			agreed = "drained"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.0f%%\t%s", t.Addr, t.State, since, rtt, 100*t.Loss, agreed)
		for _, p := range peers {
			st := t.Peers[p]
			if st == "" {
				st = "-"
			}
			fmt.Fprint(tw, "\t"+st)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	if len(doc.Drains) > 0 {
		fmt.Fprintln(w, "\ndrained (out of DNS on purpose):")
		for _, e := range doc.Drains {
			fmt.Fprintf(w, "  %s by %s", e.Addr, e.By)
			if !e.At.IsZero() {
				fmt.Fprintf(w, " at %s", e.At.UTC().Format(time.RFC3339))
			}
			if e.Reason != "" {
				fmt.Fprintf(w, ": %s", e.Reason)
			}
			fmt.Fprintln(w)
		}
	}
	if doc.Pass == nil {
		fmt.Fprintln(w, "\nno reconcile pass yet")
		renderDNS(w, doc.DNS)
		return
	}
	p := doc.Pass
	fmt.Fprintf(w, "\nlast pass %s (%s, %s)", p.At.UTC().Format(time.RFC3339), p.Mode, p.Duration)
	if p.Error != "" {
		fmt.Fprintf(w, " failed: %s", p.Error)
	}
	fmt.Fprintln(w)
	for _, z := range p.Plans {
		if len(z.Creates)+len(z.Deletes)+len(z.Deferred)+len(z.Failed)+len(z.Blocked) == 0 {
			fmt.Fprintf(w, "  %s: in step\n", z.Zone)
		}
		for _, c := range z.Creates {
			fmt.Fprintf(w, "  %s: + %s\n", z.Zone, c)
		}
		for _, d := range z.Deletes {
			fmt.Fprintf(w, "  %s: - %s\n", z.Zone, d)
		}
		for _, d := range z.Deferred {
			fmt.Fprintf(w, "  %s: - %s (deferred: removal limit)\n", z.Zone, d)
		}
		for _, f := range z.Failed {
			fmt.Fprintf(w, "  %s: FAILED %s (retrying)\n", z.Zone, f)
		}
		for _, d := range z.Blocked {
			fmt.Fprintf(w, "  %s: - %s (held: its name's restore was not made)\n", z.Zone, d)
		}
		for _, h := range z.FailOpen {
			fmt.Fprintf(w, "  %s: fail-open %s (every address down; records kept)\n", z.Zone, h)
		}
	}
	renderDNS(w, doc.DNS)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}

// writerName says who writes DNS, in the same words everywhere (/status,
// goavail status, the writer metric): the writer's name only while it can
// write (a quorum of voting agents); otherwise "none" and why. fromCluster
// is what cluster.IsWriter says.
func writerName(d cluster.Decision, fromCluster string) string {
	if !d.Quorate && d.LocalIsolated && len(d.Voters) == 0 {
		return "none: this agent abstains (isolation guard)"
	}
	return fromCluster
}
