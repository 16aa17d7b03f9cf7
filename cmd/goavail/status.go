package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/goavail/goavail/agent"
)

// statusCmd fetches /status from a running agent and prints it.
func statusCmd(ctx context.Context, t agentTarget, asJSON bool, stdout io.Writer) error {
	url := t.url + "/status"
	body, err := getAgent(ctx, url)
	if err != nil {
		return err
	}
	var doc agent.StatusDoc
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
func renderStatus(w io.Writer, doc agent.StatusDoc) {
	role := "standby"
	switch {
	case doc.IsWriter:
		role = "writer"
	case !doc.Quorate:
		role = "no quorum"
	}
	mode := "live" // writes DNS when it is the writer
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
	renderReasons(w, doc)
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
		if len(z.Creates)+len(z.Deletes)+len(z.Deferred)+len(z.Failed)+len(z.Blocked)+len(z.Waiting) == 0 {
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
		for _, d := range z.Waiting {
			fmt.Fprintf(w, "  %s: - %s (next pass: its replacement is created first)\n", z.Zone, d)
		}
		for _, h := range z.FailOpen {
			fmt.Fprintf(w, "  %s: fail-open %s (every address down; records kept)\n", z.Zone, h)
		}
		for _, t := range z.Tiers {
			fmt.Fprintf(w, "  %s: %s %s served by %s: %s\n", z.Zone, t.Name, t.Type, t.Tier, t.Evidence)
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

// renderReasons prints, under the targets table, why each failing check
// of a target fails.
func renderReasons(w io.Writer, doc agent.StatusDoc) {
	first := true
	for _, t := range doc.Targets {
		for _, c := range t.Checks {
			if c.Reason == "" && c.Warning == "" {
				continue
			}
			if first {
				fmt.Fprintln(w, "\nfailing checks, and warnings:")
				first = false
			}
			if c.Reason != "" {
				fmt.Fprintf(w, "  %s %s (%s): %s\n", t.Addr, c.Check, c.State, c.Reason)
			} else {
				fmt.Fprintf(w, "  %s %s (%s): warning: %s\n", t.Addr, c.Check, c.State, c.Warning)
			}
		}
	}
}

// renderDNS prints the quarantine and propagation parts of the status.
func renderDNS(w io.Writer, d *agent.DNSStatus) {
	if d == nil {
		return
	}
	for _, q := range d.Quarantined {
		fmt.Fprintf(w, "  %s: %s %s quarantined since %s: code %d %s (retry %s)\n", q.Zone, q.Action, q.Record, q.Since.UTC().Format(time.RFC3339),
			q.Code, q.Message, q.NextTry.UTC().Format(time.RFC3339))
	}
	for _, f := range d.Foreign {
		hold := "this agent writes it again"
		if f.Holding {
			hold = "this agent's writes wait until " + f.HoldUntil.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "  %s: ANOTHER DEPLOYMENT writes this zone: %s (writer %s, %s); %s\n", f.Zone, f.Deployment, f.Writer, f.At.UTC().Format(time.RFC3339), hold)
	}
	for _, p := range d.Unverified {
		state := "waiting for the nameservers"
		if p.Late {
			state = "LATE: not on the nameservers yet"
		}
		fmt.Fprintf(w, "  %s: %s %s applied %s, %s\n", p.Zone, p.Action, p.Record, p.AppliedAt.UTC().Format(time.RFC3339), state)
	}
	if d.UncheckedProxied > 0 {
		fmt.Fprintf(w, "  %d changes of proxied records not checked on the nameservers (they answer with Cloudflare's edge addresses)\n", d.UncheckedProxied)
	}
	if n := len(d.Propagation); n > 0 {
		p := d.Propagation[n-1]
		line := fmt.Sprintf("last verified: %s %s %s on %s in %s", p.Zone, p.Action, p.Record, strings.Join(p.NameServers, ","), p.Propagation.Round(time.Millisecond))
		if p.OutageToDNS > 0 {
			line += fmt.Sprintf(" (outage to DNS %s)", p.OutageToDNS.Round(time.Millisecond))
		}
		if !p.Verified() {
			line = fmt.Sprintf("last late: %s %s %s", p.Zone, p.Action, p.Record)
		}
		fmt.Fprintln(w, "  "+line)
	}
}
