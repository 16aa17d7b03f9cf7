package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/goavail/goavail/agent"
	"github.com/goavail/goavail/crypto"
	"github.com/goavail/goavail/internal/cfemu"
	"github.com/goavail/goavail/internal/netlab"
)

// answer is one DNS answer the poller got for www.example.com A.
type answer struct {
	at    time.Time
	addrs []string // sorted; empty: NXDOMAIN or NODATA
}

// dnsPoller asks the emulator's nameserver for a name's A records every
// few milliseconds, and keeps every answer.
type dnsPoller struct {
	mu      sync.Mutex
	answers []answer
	errs    int // queries with no answer at all (timeouts): not an empty name
}

func pollDNS(t *testing.T, server, name string) *dnsPoller {
	p := &dnsPoller{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		c := &mdns.Client{Timeout: 300 * time.Millisecond}
		for ctx.Err() == nil {
			m := new(mdns.Msg)
			m.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
			r, _, err := c.ExchangeContext(ctx, m, server)
			at := time.Now()
			p.mu.Lock()
			if err != nil || r == nil {
				p.errs++
			} else {
				a := answer{at: at}
				for _, rr := range r.Answer {
					if x, ok := rr.(*mdns.A); ok {
						a.addrs = append(a.addrs, x.A.String())
					}
				}
				slices.Sort(a.addrs)
				p.answers = append(p.answers, a)
			}
			p.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return p
}

// first is when the nameserver first answered, at or after since, with an
// answer that ok accepts (zero if it has not).
func (p *dnsPoller) first(since time.Time, ok func([]string) bool) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.answers {
		if !a.at.Before(since) && ok(a.addrs) {
			return a.at
		}
	}
	return time.Time{}
}

// empty returns how many answers were empty and the longest time the name
// went without an answer (from the last answer with records before an
// empty one to the next answer with records).
func (p *dnsPoller) empty() (n, answers int, longest time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var lastFull time.Time
	inGap := false
	for _, a := range p.answers {
		if len(a.addrs) == 0 {
			n++
			inGap = true
			continue
		}
		if inGap && !lastFull.IsZero() {
			longest = max(longest, a.at.Sub(lastFull))
		}
		inGap, lastFull = false, a.at
	}
	return n, len(p.answers), longest
}

func is(want ...string) func([]string) bool {
	slices.Sort(want)
	return func(got []string) bool { return slices.Equal(got, want) }
}

func includes(addr string) func([]string) bool {
	return func(got []string) bool { return slices.Contains(got, addr) }
}

// journalOrder checks, in the emulator's journal (zone example.com after
// every write), that the first write where every address of made is
// present comes strictly before the first write where none of gone is,
// and returns the time between the two.
func journalOrder(t *testing.T, emu *cfemu.Server, from int, made, gone []string) time.Duration {
	t.Helper()
	var madeAt, goneAt = -1, -1
	var entries []cfemu.Entry
	for _, e := range emu.Journal()[from:] {
		if e.Zones != nil {
			entries = append(entries, e)
		}
	}
	for i, e := range entries {
		var contents []string
		for _, r := range e.Zones["example.com"] {
			if r.Name == "www.example.com" && r.Type == "A" {
				contents = append(contents, r.Content)
			}
		}
		all := !slices.ContainsFunc(made, func(a string) bool { return !slices.Contains(contents, a) })
		none := !slices.ContainsFunc(gone, func(a string) bool { return slices.Contains(contents, a) })
		if all && madeAt < 0 {
			madeAt = i
		}
		if none && goneAt < 0 {
			goneAt = i
		}
		if len(contents) == 0 {
			t.Errorf("write %d (%s %s) left www.example.com with no A record", i, e.Method, e.Path)
		}
	}
	if madeAt < 0 || goneAt < 0 || madeAt >= goneAt {
		t.Fatalf("journal: %v created at write %d, %v gone at write %d: want the creation strictly first", made, madeAt, gone, goneAt)
	}
	return entries[goneAt].At.Sub(entries[madeAt].At)
}

// tiersConfig watches www's primaries and backup, with a fallback, and
// (so that every address of www down is not most of what the agent
// watches: the isolation guard) another group on other.example.com.
func tiersConfig(httpAddr string, primaries []*netlab.Host, backup, fallback, other *netlab.Host) string {
	var ips []string
	for _, h := range primaries {
		ips = append(ips, fmt.Sprintf("%q", h.V4.String()))
	}
	return fmt.Sprintf(`http_listen = %q
failure_threshold = 2
rise_threshold = 2
interval = "200ms"
probe_timeout = "150ms"
reconcile_period = "30s"

[Cloudflare]
dns_domain = "example.com"
hostnames = ["www"]
ip_addresses = [%s]
backup_addresses = [%q]
fallback_addresses = [%q]
ttl = 60
propagation_bound = "10s"

[[Records]]
dns_domain = "example.com"
hostnames = ["other"]
ip_addresses = [%q]
`, httpAddr, strings.Join(ips, ", "), backup.V4.String(), fallback.V4.String(), other.V4.String())
}

// TestE2E_BackupAndFallbackTiers runs the binary against the emulator,
// whose nameserver shows a creation 1 s after it is made but a removal
// after 50 ms (each record propagates on its own, as on Cloudflare), so
// that a removal sent in the creation's batch, or in the batch right
// after it, would empty the name. A DNS client polls the nameserver
// throughout:
//   - both primaries down: the backup is created, and the primaries
//     removed only once the nameserver serves it;
//   - one primary back: it is restored, then the backup withdrawn;
//   - every watched address down: the fallback is published.
//
// The name never answers empty; the journal shows every creation in an
// earlier write than the removals it replaces; status, metrics and logs
// name the tier.
func TestE2E_BackupAndFallbackTiers(t *testing.T) {
	l := newE2ELab(t, 180, labOpts{hosts: 6})
	p1, p2, bk, fb, emu := l.hosts[0], l.hosts[1], l.hosts[2], l.hosts[3], l.emu
	others := l.hosts[4:] // watched elsewhere, always up
	l.seed(cfemu.Record{TTL: 60}, p1, p2)
	httpAddr := freeAddr(t)
	cfg := tiersConfig(httpAddr, []*netlab.Host{p1, p2}, bk, fb, others[0])
	cfg = strings.Replace(cfg, fmt.Sprintf("ip_addresses = [%q]", others[0].V4.String()), fmt.Sprintf("ip_addresses = [%q, %q]", others[0].V4.String(), others[1].V4.String()), 1)

	// goavail validate prints the tiers.
	file := filepath.Join(t.TempDir(), "goavail.toml")
	os.WriteFile(file, []byte(cfg), 0o600)
	out, err := exec.Command(l.bin, "validate", "--config-file", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("backup_addresses = [%q]", bk.V4.String())) || !strings.Contains(string(out), fmt.Sprintf("fallback_addresses = [%q]", fb.V4.String())) {
		t.Errorf("goavail validate: %v\n%s", err, out)
	}

	emu.SetPropagationDelay(time.Second)
	emu.SetDeletePropagationDelay(50 * time.Millisecond)
	emu.StartJournal()
	dns := pollDNS(t, emu.DNSAddr(), "www.example.com")
	ag := l.start(cfg, "--no-dry-run")
	eventually(t, "every watched address up", func() bool {
		s := ag.logs.String()
		return strings.Contains(s, saw(p1, "unknown", "up")) && strings.Contains(s, saw(p2, "unknown", "up")) && strings.Contains(s, saw(bk, "unknown", "up"))
	}, ag.logs)
	a1, a2, ab, af := p1.V4.String(), p2.V4.String(), bk.V4.String(), fb.V4.String()
	if !dns.first(time.Time{}, is(a1, a2)).After(time.Time{}) {
		t.Fatalf("the nameserver never answered with the primaries")
	}

	// Both primaries down.
	j := len(emu.Journal())
	t0 := time.Now()
	p1.IgnoreEcho(true)
	p2.IgnoreEcho(true)
	eventually(t, "the backup alone served", func() bool { return !dns.first(t0, is(ab)).IsZero() }, ag.logs)
	backupServed := dns.first(t0, includes(ab))
	toBackup := backupServed.Sub(t0)
	// The last primary's first lost probe, from the agent's own figure:
	// its removal's verified line says when and how long after that
	// probe the nameserver stopped serving it.
	var lastLost time.Time
	for _, a := range []string{a1, a2} {
		re := regexp.MustCompile(`time=(\S+) level=INFO msg="dns change verified[^\n]*action=delete[^\n]*content=` + regexp.QuoteMeta(a) + `[^\n]*outage_to_dns=(\S+)`)
		eventually(t, "the removal of "+a+" verified", func() bool { return re.MatchString(ag.logs.String()) }, ag.logs)
		m := re.FindStringSubmatch(ag.logs.String())
		at, err1 := time.Parse(time.RFC3339Nano, m[1])
		d, err2 := time.ParseDuration(m[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("verified line %q: %v %v", m[0], err1, err2)
		}
		if lost := at.Add(-d); lost.After(lastLost) {
			lastLost = lost
		}
	}
	lostToBackup := backupServed.Sub(lastLost)
	held := journalOrder(t, emu, j, []string{ab}, []string{a1, a2})
	if held < 900*time.Millisecond {
		t.Errorf("the primaries went %s after the backup was created: want them held until the nameserver served it (1 s)", held)
	}
	if !strings.Contains(ag.logs.String(), `msg="serving www.example.com A from the backup tier"`) {
		t.Errorf("no tier change logged")
	}
	var doc agent.StatusDoc
	if err := json.Unmarshal([]byte(get(t, "http://"+httpAddr+"/status")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Pass == nil || len(doc.Pass.Plans) != 1 || !slices.ContainsFunc(doc.Pass.Plans[0].Tiers, func(d agent.TierDoc) bool {
		return d.Name == "www.example.com" && d.Type == "A" && d.Tier == "backup" && strings.HasPrefix(d.Evidence, "0 of 2 primaries up")
	}) {
		t.Errorf("/status does not show the backup tier: %+v", doc.Pass)
	}
	if m := get(t, "http://"+httpAddr+"/metrics"); !strings.Contains(m, `goavail_hostname_tier{hostname="www.example.com",tier="backup",type="A"} 1`) {
		t.Errorf("/metrics lacks the backup tier")
	}

	// One primary back.
	j = len(emu.Journal())
	t1 := time.Now()
	p1.IgnoreEcho(false)
	eventually(t, "the primary alone served", func() bool { return !dns.first(t1, is(a1)).IsZero() }, ag.logs)
	toPrimary := dns.first(t1, includes(a1)).Sub(t1)
	journalOrder(t, emu, j, []string{a1}, []string{ab})

	// Every watched address down: the backup first (nothing changes while
	// a primary is up), then the primary.
	bk.IgnoreEcho(true)
	eventually(t, "the backup seen down", func() bool { return strings.Contains(ag.logs.String(), saw(bk, "up", "down")) }, ag.logs)
	j = len(emu.Journal())
	t2 := time.Now()
	p1.IgnoreEcho(true)
	eventually(t, "the fallback alone served", func() bool { return !dns.first(t2, is(af)).IsZero() }, ag.logs)
	toFallback := dns.first(t2, includes(af)).Sub(t2)
	journalOrder(t, emu, j, []string{af}, []string{a1})

	n, total, longest := dns.empty()
	if total < 100 {
		t.Fatalf("the poller got %d answers: too few to tell", total)
	}
	if n > 0 {
		t.Errorf("%d of %d answers were empty; the name went %s without an answer", n, total, longest)
	}
	t.Logf("FIGURE tiers: last primary's first lost probe -> backup served by the nameserver %s (log times to the millisecond)", lostToBackup.Round(time.Millisecond))
	t.Logf("FIGURE tiers: echo blocked on both primaries -> backup served by the nameserver %s; echo back on one primary -> it is served %s; every address down -> fallback served %s (failure_threshold 2, rise_threshold 2, interval 200ms, creation propagation 1s, removal 50ms); %d answers, %d empty, longest without an answer %s, %d queries unanswered",
		toBackup.Round(time.Millisecond), toPrimary.Round(time.Millisecond), toFallback.Round(time.Millisecond), total, n, longest, dns.errs)
	ag.stop(t)
}

// TestE2E_TiersWriterHandOverMidSwitch runs three agents (2 of 3 agree)
// with a backup tier. Both primaries go down; the writer creates the
// backup and is killed before the nameserver serves it (creations take
// 12 s to show, removals 50 ms). The next writer never made that creation,
// yet holds the primaries' removal until the nameserver serves the backup
// (it reads the record's creation time from the API), so the name never
// answers empty.
func TestE2E_TiersWriterHandOverMidSwitch(t *testing.T) {
	l := newE2ELab(t, 181, labOpts{hosts: 6, gateway: true})
	p1, p2, bk, hosts, emu := l.hosts[0], l.hosts[1], l.hosts[2], l.hosts[3:6], l.emu
	l.seed(cfemu.Record{TTL: 60}, p1, p2)
	const created = 12 * time.Second
	emu.SetPropagationDelay(created)
	emu.SetDeletePropagationDelay(50 * time.Millisecond)
	key := crypto.GenerateKey()
	var agents []*proc
	for i, h := range hosts {
		var peers []*netlab.Host
		for _, p := range hosts {
			if p != h {
				peers = append(peers, p)
			}
		}
		cfg := clusterConfig(fmt.Sprintf("agent-%d", i+1), h, peers, key, p1, p2)
		cfg += fmt.Sprintf("backup_addresses = [%q]\npropagation_bound = \"40s\"\n", bk.V4.String())
		agents = append(agents, l.startIn(h, cfg, "--no-dry-run"))
	}
	all := lazy(func() string {
		var b strings.Builder
		for i, a := range agents {
			fmt.Fprintf(&b, "--- agent-%d\n%s", i+1, a.logs.String())
		}
		return b.String()
	})
	for i, a := range agents {
		eventually(t, fmt.Sprintf("agent-%d sees every address up and agent-1 as the writer", i+1), func() bool {
			s := a.logs.String()
			return strings.Contains(s, saw(p1, "unknown", "up")) && strings.Contains(s, saw(p2, "unknown", "up")) &&
				strings.Contains(s, saw(bk, "unknown", "up")) && strings.Contains(s, "writer=agent-1")
		}, all)
	}
	a1, a2, ab := p1.V4.String(), p2.V4.String(), bk.V4.String()
	dns := pollDNS(t, emu.DNSAddr(), "www.example.com")
	emu.StartJournal()
	t0 := time.Now()
	p1.IgnoreEcho(true)
	p2.IgnoreEcho(true)
	patient(t, "agent-1 creates the backup", func() bool { return has(emu, "www.example.com", "A", ab) }, all)
	agents[0].cmd.Process.Signal(syscall.SIGKILL)
	agents[0].cmd.Wait()
	killed := time.Now()
	if !has(emu, "www.example.com", "A", a1) || !has(emu, "www.example.com", "A", a2) {
		t.Fatalf("the primaries were gone when agent-1 was killed: the hand-over did not come in the middle of the switch")
	}
	patient(t, "another agent writes", func() bool {
		for _, a := range agents[1:] {
			s := a.logs.String()
			if i := strings.LastIndex(s, "writer="); i >= 0 && !strings.HasPrefix(s[i:], "writer=agent-1") && strings.Contains(s, "this agent writes DNS") {
				return true
			}
		}
		return false
	}, all)
	patient(t, "the backup alone served", func() bool { return !dns.first(t0, is(ab)).IsZero() }, all)
	held := journalOrder(t, emu, 0, []string{ab}, []string{a1, a2})
	if held < created-time.Second {
		t.Errorf("the primaries went %s after the backup was created: want them held until the nameserver served it (%s)", held, created)
	}
	n, total, longest := dns.empty()
	if total < 100 || n > 0 {
		t.Errorf("%d of %d answers were empty; the name went %s without an answer", n, total, longest)
	}
	t.Logf("FIGURE hand-over mid-switch: writer killed %s after the primaries went down; backup served by the nameserver %s after; primaries removed %s after the backup's creation (creation propagation %s); %d answers, %d empty, longest without an answer %s",
		killed.Sub(t0).Round(time.Millisecond), dns.first(t0, includes(ab)).Sub(t0).Round(time.Millisecond), held.Round(time.Millisecond), created, total, n, longest)
	agents[1].stop(t)
	agents[2].stop(t)
}
