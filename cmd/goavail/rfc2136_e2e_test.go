package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goavail/goavail/crypto"
	"github.com/goavail/goavail/internal/namedlab"
	"github.com/goavail/goavail/internal/netlab"
)

// rfc2136Config is labConfig's agent writing to named through RFC 2136.
func rfc2136Config(httpAddr, server string, hosts ...*netlab.Host) string {
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

[[Records]]
provider = "rfc2136"
dns_domain = "example.com"
hostnames = ["www"]
ip_addresses = [%s]
ttl = 120

[RFC2136]
server = %q
tsig_key_name = %q
`, httpAddr, strings.Join(ips, ", "), server, namedlab.KeyName)
}

// launchRFC2136 starts goavail monitor on config with the TSIG secret in
// the environment (and no Cloudflare credentials at all), behind prefix
// (e.g. ip netns exec NS) when given.
func launchRFC2136(t *testing.T, prefix []string, bin, config, secret string, args ...string) *proc {
	t.Helper()
	return launchEnv(t, prefix, bin, config, []string{"GOAVAIL_TSIG_SECRET=" + secret}, args...)
}

// launchEnv starts goavail monitor on config with env added to an
// environment without Cloudflare credentials.
func launchEnv(t *testing.T, prefix []string, bin, config string, extra []string, args ...string) *proc {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "goavail.toml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &proc{logs: &syncBuffer{}, cfg: cfg}
	argv := append(append(slices.Clone(prefix), bin, "monitor", "--config-file", cfg), args...)
	a.cmd = exec.Command(argv[0], argv[1:]...)
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "CLOUDFLARE_") && !strings.HasPrefix(e, "CF_") {
			env = append(env, e)
		}
	}
	a.cmd.Env = append(append(env, "CREDENTIALS_DIRECTORY="+t.TempDir()), extra...)
	a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.cmd.Process.Kill(); a.cmd.Wait() })
	return a
}

// TestE2E_RFC2136HostDownAndUp runs the binary against a real named: a
// host's A record goes from the zone when it stops answering and comes
// back when it answers again, each by a TSIG-signed UPDATE that also
// replaces the fence record, and read back from the primary (the
// propagation check); records goavail does not manage stay. Then a
// wrong secret: the start stops, naming the key the server refused, and
// the zone is left as it was.
func TestE2E_RFC2136HostDownAndUp(t *testing.T) {
	namedlab.Skip(t)
	l := newE2ELab(t, 141, labOpts{noEmulator: true})
	a, b := l.hosts[0], l.hosts[1]
	s := namedlab.Start(t, "example.com",
		"www 300 IN A "+a.V4.String(), "www 300 IN A "+b.V4.String(),
		"www 300 IN A 198.51.100.7", "www 300 IN TXT \"v=spf1 -all\"", "mail 300 IN A "+a.V4.String())
	www := func() []string { v := s.Lookup(t, "www.example.com", "A"); slices.Sort(v); return v }
	want := func(ips ...string) func() bool {
		slices.Sort(ips)
		return func() bool { return slices.Equal(www(), ips) }
	}

	ag := launchRFC2136(t, nil, l.bin, rfc2136Config(freeAddr(t), s.Addr, a, b), s.Secret, "--no-dry-run")
	eventually(t, "both hosts up", bothUp(ag, a, b), ag.logs)

	start := time.Now()
	a.IgnoreEcho(true)
	eventually(t, "a's record removed from named", want(b.V4.String(), "198.51.100.7"), ag.logs)
	t.Logf("a's record gone from named %s after its echo stopped (interval 200ms, failure_threshold 2)", time.Since(start).Round(time.Millisecond))
	verified := regexp.MustCompile(`msg="dns change verified[^\n]*action=delete[^\n]*content=` + regexp.QuoteMeta(a.V4.String()) +
		`[^\n]*result=verified propagation=(\S+)[^\n]*outage_to_dns=(\S+)`)
	eventually(t, "the removal read back from the primary", func() bool { return verified.MatchString(ag.logs.String()) }, ag.logs)
	m := verified.FindStringSubmatch(ag.logs.String())
	t.Logf("FIGURE removal (rfc2136): propagation %s, first lost probe to the change on the primary %s", m[1], m[2])
	fence := s.Lookup(t, "_goavail.example.com", "TXT")
	if len(fence) != 2 || !slices.ContainsFunc(fence, func(c string) bool { return strings.Contains(c, "deployment=goavail") }) {
		t.Errorf("fence record after the removal = %q, want the genesis and a stamp", fence)
	}
	start = time.Now()
	a.IgnoreEcho(false)
	eventually(t, "a's record restored on named", want(a.V4.String(), b.V4.String(), "198.51.100.7"), ag.logs)
	t.Logf("a's record back on named %s after its echo resumed (rise_threshold 2)", time.Since(start).Round(time.Millisecond))
	if got := s.Lookup(t, "mail.example.com", "A"); !slices.Equal(got, []string{a.V4.String()}) {
		t.Errorf("unmanaged mail A = %v", got)
	}
	if got := s.Lookup(t, "www.example.com", "TXT"); !slices.Equal(got, []string{"v=spf1 -all"}) {
		t.Errorf("unmanaged www TXT = %v", got)
	}
	ag.stop(t)

	// The wrong secret: the check at start (the zone's SOA, signed) stops
	// the start with the config exit code, naming the key; nothing is written.
	wrong := launchRFC2136(t, nil, l.bin, rfc2136Config(freeAddr(t), s.Addr, a, b), "d3JvbmcgLSB3cm9uZyAtIHdyb25nIC0gd3JvbmcgLSA=", "--no-dry-run")
	exited := make(chan struct{})
	go func() { wrong.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30 s after the start with a wrong TSIG secret:\n%s", wrong.logs)
	}
	if code, out := wrong.cmd.ProcessState.ExitCode(), wrong.logs.String(); code != exitConfig || !strings.Contains(out, "refused the check at start") ||
		!strings.Contains(out, "TSIG key goavail.") || !strings.Contains(out, "BADSIG") {
		t.Errorf("exit %d, want %d naming TSIG key goavail. and BADSIG:\n%s", code, exitConfig, out)
	}
	if got := www(); !slices.Equal(got, func() []string { v := []string{a.V4.String(), b.V4.String(), "198.51.100.7"}; slices.Sort(v); return v }()) {
		t.Errorf("a start with the wrong key changed the zone: %v", got)
	}
}

// TestE2E_RFC2136WriterHandOver runs three agents, each in its own
// namespace, against named on the lab's gateway: the writer (agent-1)
// removes a host that stops answering; it is killed, agent-2 takes the
// writer lease and restores the host when it answers again. Each write
// replaced the fence record with its writer's stamp, so agent-2's first
// write was a compare-and-swap on agent-1's last one.
func TestE2E_RFC2136WriterHandOver(t *testing.T) {
	namedlab.Skip(t)
	l := newE2ELab(t, 142, labOpts{hosts: 5, noEmulator: true})
	target, other, hosts := l.hosts[0], l.hosts[1], l.hosts[2:5]
	s := namedlab.Run(t, namedlab.Options{Zone: "example.com", Addr: l.lab.Gateway().String(),
		Records: []string{"www 60 IN A " + target.V4.String(), "www 60 IN A " + other.V4.String()}})
	key := crypto.GenerateKey()
	var agents []*proc
	for i, h := range hosts {
		var peers []*netlab.Host
		for _, p := range hosts {
			if p != h {
				peers = append(peers, p)
			}
		}
		cfg := strings.Replace(clusterConfig(fmt.Sprintf("agent-%d", i+1), h, peers, key, target, other), "[Cloudflare]\n", "[[Records]]\nprovider = \"rfc2136\"\n", 1)
		cfg += fmt.Sprintf("\n[RFC2136]\nserver = %q\ntsig_key_name = %q\n", s.Addr, namedlab.KeyName)
		agents = append(agents, launchRFC2136(t, []string{"ip", "netns", "exec", h.NS}, l.bin, cfg, s.Secret, "--no-dry-run"))
	}
	all := lazy(func() string {
		var b strings.Builder
		for i, a := range agents {
			fmt.Fprintf(&b, "--- agent-%d\n%s", i+1, a.logs)
		}
		return b.String()
	})
	for i, a := range agents {
		eventually(t, fmt.Sprintf("agent-%d sees agent-1 as the writer", i+1), func() bool {
			return strings.Contains(a.logs.String(), saw(target, "unknown", "up")) && strings.Contains(a.logs.String(), "writer=agent-1")
		}, all)
	}
	www := func() []string { v := s.Lookup(t, "www.example.com", "A"); slices.Sort(v); return v }
	stamped := func(writer string) bool {
		return slices.ContainsFunc(s.Lookup(t, "_goavail.example.com", "TXT"), func(c string) bool { return strings.Contains(c, "writer="+writer+" ") })
	}
	target.IgnoreEcho(true)
	eventually(t, "agent-1 removes the target's record", func() bool { return slices.Equal(www(), []string{other.V4.String()}) }, all)
	if !stamped("agent-1") {
		t.Errorf("fence after agent-1's write = %q", s.Lookup(t, "_goavail.example.com", "TXT"))
	}
	agents[0].cmd.Process.Signal(syscall.SIGKILL)
	agents[0].cmd.Wait()
	patient(t, "agent-2 takes over", func() bool {
		l := agents[1].logs.String()
		i := strings.LastIndex(l, "writer=")
		return i >= 0 && strings.HasPrefix(l[i:], "writer=agent-2")
	}, all)
	target.IgnoreEcho(false)
	want := []string{target.V4.String(), other.V4.String()}
	slices.Sort(want)
	patient(t, "agent-2 restores the record on named", func() bool { return slices.Equal(www(), want) }, all)
	if !stamped("agent-2") || stamped("agent-1") {
		t.Errorf("fence after agent-2's write = %q, want agent-2's stamp alone", s.Lookup(t, "_goavail.example.com", "TXT"))
	}
	agents[1].stop(t)
	agents[2].stop(t)
}

// TestE2E_MixedProviders runs one agent whose zones live at two
// providers: example.com at Cloudflare (the emulator), example.net on
// named through RFC 2136. A host that stops answering goes from both
// zones, each written at its own provider, and comes back to both.
func TestE2E_MixedProviders(t *testing.T) {
	namedlab.Skip(t)
	l := newE2ELab(t, 143, labOpts{seedTTL: 60})
	a, b, emu := l.hosts[0], l.hosts[1], l.emu
	s := namedlab.Start(t, "example.net", "www 60 IN A "+a.V4.String(), "www 60 IN A "+b.V4.String())
	cfg := labConfig(freeAddr(t), a, b) + fmt.Sprintf(`
[[Records]]
provider = "rfc2136"
dns_domain = "example.net"
hostnames = ["www"]
ip_addresses = [%q, %q]

[RFC2136]
server = %q
tsig_key_name = %q
`, a.V4.String(), b.V4.String(), s.Addr, namedlab.KeyName)
	ag := launchEnv(t, nil, l.bin, cfg, []string{"GOAVAIL_TSIG_SECRET=" + s.Secret, "CLOUDFLARE_BASE_URL=" + emu.BaseURL(), "CLOUDFLARE_API_TOKEN=" + emu.Token}, "--no-dry-run")
	eventually(t, "both hosts up", bothUp(ag, a, b), ag.logs)
	net := func() []string { v := s.Lookup(t, "www.example.net", "A"); slices.Sort(v); return v }
	a.IgnoreEcho(true)
	eventually(t, "a's record removed at both providers", func() bool {
		return !has(emu, "www.example.com", "A", a.V4.String()) && slices.Equal(net(), []string{b.V4.String()})
	}, ag.logs)
	if !has(emu, "www.example.com", "A", b.V4.String()) {
		t.Fatalf("b's record went from Cloudflare: %v", emu.Records("example.com"))
	}
	if len(s.Lookup(t, "_goavail.example.net", "TXT")) != 2 {
		t.Errorf("named's fence = %q, want the genesis and a stamp", s.Lookup(t, "_goavail.example.net", "TXT"))
	}
	a.IgnoreEcho(false)
	want := []string{a.V4.String(), b.V4.String()}
	slices.Sort(want)
	eventually(t, "a's record restored at both providers", func() bool {
		return has(emu, "www.example.com", "A", a.V4.String()) && slices.Equal(net(), want)
	}, ag.logs)
	for _, r := range emu.Requests() {
		if strings.Contains(r.Path+"?"+r.Query, "example.net") || r.Status == 404 {
			t.Errorf("a request about the RFC 2136 zone reached Cloudflare: %+v", r)
		}
	}
	ag.stop(t)
}
