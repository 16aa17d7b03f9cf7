package agent

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/monitor"
)

// StatusDoc is what /status serves and goavail status renders. It holds
// no secret: no key, token or credential is ever part of it.
type StatusDoc struct {
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
	Targets  []TargetDoc       `json:"targets"`
	Drains   []DrainEntry      `json:"drains,omitempty"` // drained addresses: by whom, when, why
	Pass     *PassDoc          `json:"last_pass,omitempty"`

	// WriterTerm is the highest writer-lease term this agent knows.
	WriterTerm uint64 `json:"writer_term,omitempty"`
	// NameConflicts are node names two agents use at once; while one is
	// this agent's own, it neither votes nor writes.
	NameConflicts []ConflictDoc `json:"name_conflicts,omitempty"`
	// DNS is the quarantine and propagation part (dnschanges.go).
	DNS *DNSStatus `json:"dns,omitempty"`
}

type ConflictDoc struct {
	NodeName  string   `json:"node_name"`
	Addresses []string `json:"addresses"`
	ThisAgent bool     `json:"this_agent"`
	Error     string   `json:"error"`
}

type TargetDoc struct {
	Addr   string            `json:"address"`
	State  string            `json:"state"`
	Since  time.Time         `json:"since,omitzero"`
	Agreed string            `json:"agreed"`
	RTT    time.Duration     `json:"rtt_ns,omitempty"`
	Loss   float64           `json:"loss"`
	Ev     monitor.Evidence  `json:"evidence"`
	Peers  map[string]string `json:"peers,omitempty"` // node -> state in its latest view
	// Drained: an operator or the config took the address out of DNS.
	Drained bool       `json:"drained,omitempty"`
	Checks  []CheckDoc `json:"checks,omitempty"`
}

type PassDoc struct {
	At       time.Time `json:"at"`
	Duration string    `json:"duration"`
	Mode     string    `json:"mode"`
	Error    string    `json:"error,omitempty"`
	Plans    []PlanDoc `json:"plans"`
}

type PlanDoc struct {
	Zone     string   `json:"zone"`
	Creates  []string `json:"creates,omitempty"`
	Deletes  []string `json:"deletes,omitempty"`
	FailOpen []string `json:"fail_open,omitempty"`
	Deferred []string `json:"deferred,omitempty"` // removals held back by max_removals
	Failed   []string `json:"failed,omitempty"`   // not made this pass (API error); retried
	Blocked  []string `json:"blocked,omitempty"`  // removals held: the name's restore was not made
	// Waiting are removals held until their replacements are listed (make
	// before break: the next pass makes them).
	Waiting []string `json:"waiting,omitempty"`
	// Tiers say which tier serves each hostname and type of the groups
	// with backup or fallback addresses.
	Tiers   []TierDoc `json:"tiers,omitempty"`
	Applied bool      `json:"applied"`
}

// TierDoc is the tier serving one hostname's records of one type.
type TierDoc struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Tier     string `json:"tier"`
	Evidence string `json:"evidence"`
}

func buildStatus(node, version string, dryRun bool, tracker *monitor.Health, clu *cluster.Cluster, rec *dns.Reconciler, drains map[netip.Addr]DrainEntry) StatusDoc {
	d := clu.Decision()
	isWriter, writer := clu.IsWriter()
	doc := StatusDoc{Node: node, Version: version, DryRun: dryRun, Members: clu.Members(), Writer: writerName(d, writer), IsWriter: isWriter,
		Quorate: d.Quorate, Voters: d.Voters, Isolated: d.LocalIsolated, Dropped: clu.Dropped(), WriterTerm: clu.Term()}
	for _, k := range clu.Conflicts() {
		doc.NameConflicts = append(doc.NameConflicts, ConflictDoc{NodeName: k.Name, Addresses: k.Addrs, ThisAgent: k.Local,
			Error: fmt.Sprintf("two agents use node_name %q (at %s): give each agent its own node_name", k.Name, strings.Join(k.Addrs, " and "))})
	}
	for _, e := range drains {
		doc.Drains = append(doc.Drains, e)
	}
	slices.SortFunc(doc.Drains, func(a, b DrainEntry) int { return a.Addr.Compare(b.Addr) })
	peers := map[string]map[netip.Addr]monitor.State{}
	for name, v := range clu.PeerViews() {
		peers[name] = v.States()
	}
	for _, s := range tracker.Snapshot() {
		_, drained := drains[s.Addr]
		t := TargetDoc{Addr: s.Addr.String(), State: s.State.String(), Since: s.Since, Agreed: d.States[s.Addr].String(), Loss: s.Evidence.Loss(), Ev: s.Evidence, Drained: drained}
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
	slices.SortFunc(doc.Targets, func(a, b TargetDoc) int { return strings.Compare(a.Addr, b.Addr) })
	attachChecks(&doc, tracker)
	if last := rec.Last(); !last.At.IsZero() {
		p := &PassDoc{At: last.At, Duration: last.Duration.Round(time.Microsecond).String(), Mode: last.Mode}
		if last.Err != nil {
			p.Error = last.Err.Error()
		}
		for _, zp := range last.Plans {
			pd := PlanDoc{Zone: zp.Zone, FailOpen: zp.FailOpen, Applied: zp.Applied}
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
			for _, r := range zp.Waiting {
				pd.Waiting = append(pd.Waiting, r.String())
			}
			for _, t := range zp.Tiers {
				pd.Tiers = append(pd.Tiers, TierDoc{Name: t.Name, Type: t.Type, Tier: string(t.Tier), Evidence: t.Evidence()})
			}
			p.Plans = append(p.Plans, pd)
		}
		doc.Pass = p
	}
	return doc
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
