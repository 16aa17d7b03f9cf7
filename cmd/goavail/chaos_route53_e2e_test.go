package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/goavail/goavail/internal/chaos"
	"github.com/goavail/goavail/internal/netlab"
	"github.com/goavail/goavail/internal/r53emu"
)

// r53Lab is the chaos suite's DNS when it runs against the Route 53
// emulator (GOAVAIL_CHAOS_PROVIDER=route53): r53emu on the lab's gateway,
// throttling at Route 53's 5 requests per second, each agent run signing
// with an access key of its own (AddKey, labelled with the run), so the
// emulator's journal names the run behind every request. Even seeds write
// the original goavail's weighted set (the [Route53] block: identifier
// "www", weight 0), odd ones a simple set ([[Records]] provider =
// "route53").
type r53Lab struct {
	emu      *r53emu.Server
	zoneID   string
	weighted bool
	initial  []chaos.Record
	held     int // holds of a change batch in transit armed (kill-writer-mid-batch, late-write)
}

// startRoute53 starts the emulator with the chaos zone: www A (the
// targets and the unmanaged 198.51.100.7, one set), www TXT, mail A.
func (c *chaosRun) startRoute53(lab *netlab.Lab) {
	emu, err := r53emu.NewOn(lab.Gateway().String() + ":0")
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(emu.Close)
	b := &r53Lab{emu: emu, zoneID: emu.AddZone("example.com"), weighted: c.seed%2 == 0}
	www := r53emu.RRSet{Name: "www.example.com", Type: "A", TTL: aws.Int64(60), Values: []string{"198.51.100.7"}}
	if b.weighted {
		www.SetIdentifier, www.Weight = "www", aws.Int64(0)
	}
	for _, h := range c.targets {
		www.Values = append(www.Values, h.V4.String())
	}
	emu.Seed("example.com", www)
	emu.Seed("example.com", r53emu.RRSet{Name: "www.example.com", Type: "TXT", TTL: aws.Int64(60), Values: []string{`"v=spf1 -all"`}})
	emu.Seed("example.com", r53emu.RRSet{Name: "mail.example.com", Type: "A", TTL: aws.Int64(60), Values: []string{c.targets[0].V4.String()}})
	emu.SetRateLimit(5)
	b.initial = r53emu.Records(emu.Sets("example.com"))
	emu.StartJournal()
	c.r53 = b
}

// route53Config turns a chaos agent's Cloudflare config into a Route 53
// one: the original's [Route53] block (weighted) or a [[Records]] table.
func (b *r53Lab) route53Config(cfg string) string {
	if b.weighted {
		cfg = strings.Replace(cfg, "[Cloudflare]\ndns_domain =", "[Route53]\naws_domain =", 1)
		return cfg + fmt.Sprintf("aws_zoneid = %q\n", b.zoneID)
	}
	return strings.Replace(cfg, "[Cloudflare]\n", "[[Records]]\nprovider = \"route53\"\n", 1)
}

// runEnv is the environment of the run labelled label: an access key of
// its own, the emulator as Route 53's endpoint, and no other source of
// AWS credentials or settings.
func (b *r53Lab) runEnv(label string) []string {
	id, secret := b.emu.AddKey(label)
	return []string{"AWS_ACCESS_KEY_ID=" + id, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_ENDPOINT_URL_ROUTE_53=" + b.emu.URL,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}
}

// managed is the emulator's managed values of www A.
func (b *r53Lab) managed() []string {
	var out []string
	for _, s := range b.emu.Sets("example.com") {
		if s.Name == "www.example.com." && s.Type == "A" {
			for _, v := range s.Values {
				if v != "198.51.100.7" {
					out = append(out, v)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// holdBatch holds label's next change batch (any run's when label is "")
// in the emulator for d, or until until is closed, then serves it.
func (c *chaosRun) holdBatch(label string, d time.Duration, until <-chan struct{}, taken chan<- time.Time) {
	c.r53.held++
	c.r53.emu.Inject(r53emu.Fault{Method: http.MethodPost, PathContains: "/rrset", Agent: label, Delay: d, Until: until, Count: 1, Taken: taken})
}

// route53History is the run's history with the emulator's journal
// (r53emu.Ops) as its journal and its requests.
func (c *chaosRun) route53History() chaos.History {
	h := c.history(nil)
	h.Initial = c.r53.initial
	h.Requests = nil
	entries := c.r53.emu.Journal()
	for _, e := range entries {
		if e.Zone != "example.com" || e.List {
			continue
		}
		h.Requests = append(h.Requests, chaos.Request{At: e.At, Agent: e.Agent, Write: e.Write(), Refused: e.Write() && e.Status >= 400 && !e.Committed,
			Zone: r53emu.Records(e.Zones["example.com"])})
	}
	h.Journal = r53emu.Ops(entries)
	return h
}

// route53Figures are the run's Route 53 figures: commits in the journal,
// fence stamps they created, change batches refused by code
// (InvalidChangeBatch: a DELETE that no longer matched, a stale plan;
// Throttling: over the rate), and the holds armed.
func (c *chaosRun) route53Figures(h chaos.History) string {
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
	refused, throttled, calls := map[string]int{}, map[string]int{}, map[string]int{}
	for _, e := range c.r53.emu.Journal() {
		kind := route53Call(e.Request)
		calls[kind]++
		if e.Code == "Throttling" {
			throttled[kind]++
		}
		if e.Write() && !e.Committed {
			code := e.Code
			if e.Status == 0 {
				code = "no answer"
			}
			refused[code]++
		}
	}
	return fmt.Sprintf("the emulator's journal: %d commits, %d fence stamps; change batches not committed by code %v (InvalidChangeBatch: stale, refused by the exact DELETE); requests by call %v, throttled by call %v (5 a second for all agents, as Route 53's account limit); %d holds of a change batch in transit armed; weighted set %t",
		commits, stamps, refused, calls, throttled, c.r53.held, c.r53.weighted)
}

// route53Call names the API call a request was: batch, list, change
// (GetChange), zone (GetHostedZone) or lookup (by name).
func route53Call(r r53emu.Request) string {
	switch {
	case r.Write():
		return "batch"
	case strings.HasSuffix(strings.TrimSuffix(r.Path, "/"), "/rrset"):
		return "list"
	case strings.Contains(r.Path, "/change/"):
		return "change"
	case strings.Contains(r.Path, "/hostedzonesbyname"):
		return "lookup"
	}
	return "zone"
}

// TestE2E_ChaosRoute53 is TestE2E_Chaos against the Route 53 emulator (the
// provider route53), as make chaos PROVIDER=route53 runs it, for
// chaosDefaultSeconds in make test.
func TestE2E_ChaosRoute53(t *testing.T) {
	t.Setenv(chaosProviderEnv, "route53")
	runChaos(t)
}
