package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/internal/netlab"
	"github.com/goavail/goavail/internal/r53emu"
)

// route53Config is an agent with the original goavail's [Route53] block.
func route53Config(httpAddr, zoneID string, hosts ...*netlab.Host) string {
	var ips []string
	for _, h := range hosts {
		ips = append(ips, fmt.Sprintf("%q", h.V4.String()))
	}
	return fmt.Sprintf(`http_listen = %q
failure_threshold = 2
rise_threshold = 2
interval = "200ms"
probe_timeout = "150ms"
reconcile_period = "2s"

[Route53]
aws_domain = "example.com"
aws_zoneid = %q
ttl = 120
hostnames = ["www"]
ip_addresses = [%s]
`, httpAddr, zoneID, strings.Join(ips, ", "))
}

// TestE2E_Route53WeightedDownAndUp runs the binary with --no-dry-run
// against the Route 53 emulator, configured as the original goavail was:
// a host's address leaves the weighted set www (identifier "www", weight
// 0) when it stops answering and comes back when it answers again; the
// set stays weighted with its TTL, the value goavail does not manage and
// the unmanaged set stay, and the fence TXT set holds the genesis value
// and a stamp. All read from the emulator's state. Then a wrong secret:
// the agent names the credentials, and nothing is written.
func TestE2E_Route53WeightedDownAndUp(t *testing.T) {
	l := newE2ELab(t, 153, labOpts{noEmulator: true})
	a, b := l.hosts[0], l.hosts[1]
	emu := r53emu.New()
	t.Cleanup(emu.Close)
	zid := emu.AddZone("example.com")
	w := int64(0)
	ttl := int64(120)
	emu.Seed("example.com", r53emu.RRSet{Name: "www.example.com", Type: "A", SetIdentifier: "www", Weight: &w, TTL: &ttl, Values: []string{a.V4.String(), b.V4.String(), "198.51.100.7"}})
	emu.Seed("example.com", r53emu.RRSet{Name: "mail.example.com", Type: "A", TTL: &ttl, Values: []string{a.V4.String()}})
	www := func() r53emu.RRSet {
		for _, s := range emu.Sets("example.com") {
			if s.Name == "www.example.com." && s.Type == "A" {
				return s
			}
		}
		return r53emu.RRSet{}
	}
	want := func(ips ...string) func() bool {
		slices.Sort(ips)
		return func() bool {
			s := www()
			v := slices.Clone(s.Values)
			slices.Sort(v)
			return slices.Equal(v, ips)
		}
	}
	env := func(secret string) []string {
		return []string{"AWS_ACCESS_KEY_ID=" + emu.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_ENDPOINT_URL_ROUTE_53=" + emu.URL,
			"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}
	}

	ag := launchEnv(t, nil, l.bin, route53Config(freeAddr(t), zid, a, b), env(emu.SecretAccessKey), "--no-dry-run")
	eventually(t, "both hosts up", bothUp(ag, a, b), ag.logs)
	a.IgnoreEcho(true)
	eventually(t, "a's address removed from the weighted set", want(b.V4.String(), "198.51.100.7"), ag.logs)
	if s := www(); s.SetIdentifier != "www" || s.Weight == nil || *s.Weight != 0 || *s.TTL != 120 {
		t.Errorf("after the removal www is %+v, want the weighted set www, weight 0, TTL 120", s)
	}
	verified := regexp.MustCompile(`msg="dns change verified[^\n]*action=delete[^\n]*content=` + regexp.QuoteMeta(a.V4.String()) +
		`[^\n]*result=verified propagation=(\S+)[^\n]*outage_to_dns=(\S+)`)
	eventually(t, "the removal read back from the zone's nameserver", func() bool { return verified.MatchString(ag.logs.String()) }, ag.logs)
	m := verified.FindStringSubmatch(ag.logs.String())
	t.Logf("FIGURE removal (route53 emulator, no propagation delay): propagation %s, first lost probe to the change at the nameserver %s", m[1], m[2])

	a.IgnoreEcho(false)
	eventually(t, "a's address restored into the weighted set", want(a.V4.String(), b.V4.String(), "198.51.100.7"), ag.logs)
	if s := www(); s.SetIdentifier != "www" || s.Weight == nil || *s.Weight != 0 || *s.TTL != 120 {
		t.Errorf("after the restore www is %+v, want the weighted set www, weight 0, TTL 120", s)
	}
	var fence, mail []string
	for _, s := range emu.Sets("example.com") {
		switch s.Name {
		case "_goavail.example.com.":
			fence = s.Values
		case "mail.example.com.":
			mail = s.Values
		}
	}
	if len(fence) != 2 || !strings.Contains(fence[1], "deployment=") {
		t.Errorf("fence set = %q, want the genesis and a stamp", fence)
	}
	if !slices.Equal(mail, []string{a.V4.String()}) {
		t.Errorf("unmanaged mail = %v", mail)
	}
	ag.stop(t)

	// The wrong secret: the zone check at start is refused and the agent
	// stops, naming the credentials; nothing is written.
	v := emu.Version("example.com")
	b.IgnoreEcho(true)
	wrong := launchEnv(t, nil, l.bin, route53Config(freeAddr(t), zid, a, b), env("wrong-secret"), "--no-dry-run")
	kill := time.AfterFunc(time.Minute, func() { wrong.cmd.Process.Kill() }) // a bound, should it not stop
	defer kill.Stop()
	if err := wrong.cmd.Wait(); err == nil {
		t.Errorf("the agent with the wrong secret exited 0")
	}
	if !strings.Contains(wrong.logs.String(), "AWS refused the credentials (SignatureDoesNotMatch") {
		t.Errorf("the log does not name the refused credentials:\n%s", wrong.logs)
	}
	if emu.Version("example.com") != v {
		t.Errorf("a write with the wrong secret changed the zone: %+v", www())
	}
}
