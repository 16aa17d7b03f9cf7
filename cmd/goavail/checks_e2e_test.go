package main

import (
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/goavail/goavail/internal/netlab"
	"github.com/goavail/goavail/internal/testweb"
)

// checkLab is two namespaced hosts on www.example.com: web serves HTTP on
// 80 and HTTPS on 8443 (its answer and certificate switchable) and TCP on
// 9000; other answers ping only.
type checkLab struct {
	*e2eLab
	web, other *netlab.Host
	handler    *testweb.Handler
	certs      testweb.Certs
	cert       *testweb.CertSwitch
	caFile     string
	tcp        net.Listener
}

func newCheckLab(t *testing.T, subnet int) *checkLab {
	t.Helper()
	lab := newE2ELab(t, subnet, labOpts{seedTTL: 60})
	web, other := lab.hosts[0], lab.hosts[1]
	ca := testweb.NewCA(t)
	l := &checkLab{e2eLab: lab, web: web, other: other, handler: &testweb.Handler{}, certs: ca.StandardCerts(t, "www.example.com"),
		cert: &testweb.CertSwitch{}, caFile: ca.WritePEM(t, t.TempDir())}
	os.Chmod(l.caFile, 0o644)
	l.cert.Set(l.certs.Valid)
	ln, err := web.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	testweb.Serve(t, ln, nil, l.handler)
	if ln, err = web.Listen("tcp", ":8443"); err != nil {
		t.Fatal(err)
	}
	testweb.ServeTLS(t, ln, l.cert, l.handler)
	l.openTCP(t)
	return l
}

// openTCP (re)opens the TCP service on port 9000; closing l.tcp refuses.
func (l *checkLab) openTCP(t *testing.T) {
	t.Helper()
	ln, err := l.web.Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	l.tcp = ln
	testweb.AcceptAndClose(ln)
	t.Cleanup(func() { ln.Close() })
}

func (l *checkLab) has(h *netlab.Host) bool { return has(l.emu, "www.example.com", "A", h.V4.String()) }

// checksConfig: other is checked by ping; web by the checks given.
func checksConfig(httpAddr string, web, other *netlab.Host, match string, checks string) string {
	return fmt.Sprintf(`http_listen = %q
failure_threshold = 2
rise_threshold = 2
interval = "200ms"
probe_timeout = "150ms"
reconcile_period = "2s"
flap_half_life = 0

[Cloudflare]
dns_domain = "example.com"
hostnames = ["www"]
ip_addresses = [%q, %q]
match = %q

[[Cloudflare.Checks]]
type = "icmp"
addresses = [%q]
%s`, httpAddr, web.V4, other.V4, match, other.V4, checks)
}

func webChecks(web *netlab.Host, caFile string, minDays int) string {
	return fmt.Sprintf(`
[[Cloudflare.Checks]]
type = "https"
port = 8443
addresses = [%[1]q]
fail_if_body_not_matches_regexp = ["status: ok"]
tls_ca_file = %[2]q
tls_min_days_left = %[3]d
timeout = "400ms"
interval = "500ms"

[[Cloudflare.Checks]]
type = "tcp"
port = 9000
addresses = [%[1]q]
timeout = "400ms"
interval = "500ms"
`, web.V4, caFile, minDays)
}

// downFor waits for web's record to go with a transition line that gives
// reason, then for it to come back once fix has run.
func downFor(t *testing.T, ag *proc, l *checkLab, reason string, fix func()) {
	t.Helper()
	line := saw(l.web, "up", "down") + ` reason="`
	eventually(t, "web down because "+reason, func() bool {
		for _, ln := range strings.Split(ag.logs.String(), "\n") {
			if strings.Contains(ln, line) && strings.Contains(ln, reason) {
				return true
			}
		}
		return false
	}, ag.logs)
	eventually(t, "web's record removed ("+reason+")", func() bool { return !l.has(l.web) }, ag.logs)
	if !l.has(l.other) {
		t.Fatalf("the other record went too")
	}
	fix()
	eventually(t, "web's record restored after "+reason, func() bool { return l.has(l.web) }, ag.logs)
}

// TestE2E_ChecksEveryFailureKind runs the binary with an HTTPS and a TCP
// check on one address. Each kind of failure takes its record out, with
// the reason in the transition line, and the fix puts it back: a refused
// port, a blackholed port (timeout), a 503, a body that fails the regexp,
// an expired certificate, the wrong name, and a certificate under
// tls_min_days_left (a warning first while above it).
func TestE2E_ChecksEveryFailureKind(t *testing.T) {
	l := newCheckLab(t, 111)
	httpAddr := freeAddr(t)
	ag := l.start(checksConfig(httpAddr, l.web, l.other, "all", webChecks(l.web, l.caFile, 2)), "--no-dry-run")
	eventually(t, "both up", bothUp(ag, l.web, l.other), ag.logs)

	l.tcp.Close()
	downFor(t, ag, l, "tcp:9000: connect: connection refused", func() { l.openTCP(t) })

	l.web.BlackholePort(8443, true)
	downFor(t, ag, l, "https:8443/: timeout after 400ms in connect", func() { l.web.BlackholePort(8443, false) })

	l.handler.Set(testweb.Status503)
	downFor(t, ag, l, "https:8443/: status 503 (Service Unavailable), want 2xx", func() { l.handler.Set(testweb.OK) })

	l.handler.Set(testweb.BadBody)
	downFor(t, ag, l, `https:8443/: status 200, but the body does not match \"status: ok\"`, func() { l.handler.Set(testweb.OK) })

	l.cert.Set(l.certs.Expired)
	downFor(t, ag, l, "https:8443/: tls: certificate expired or not yet valid", func() { l.cert.Set(l.certs.Valid) })

	l.cert.Set(l.certs.WrongName)
	downFor(t, ag, l, "https:8443/: tls: certificate is for other.invalid, not www.example.com", func() { l.cert.Set(l.certs.Valid) })

	// 3 days left with tls_min_days_left = 2: a warning, and still up.
	l.cert.Set(l.certs.Expiring3d)
	eventually(t, "certificate warning", func() bool {
		return strings.Contains(ag.logs.String(), `msg="check passes, but not for long" addr=`+l.web.V4.String()+` check=https:8443/ warning="tls: certificate expires in 3.0 days`)
	}, ag.logs)
	if strings.Contains(ag.logs.String(), "expires in 3.0 days (") && strings.Contains(ag.logs.String(), "under tls_min_days_left 2\"") {
		t.Fatal("a certificate above tls_min_days_left took the address down")
	}
	eventually(t, "goavail status shows the warning", func() bool {
		var out strings.Builder
		return statusCmd(t.Context(), agentTarget{url: "http://" + httpAddr}, false, &out) == nil &&
			strings.Contains(out.String(), l.web.V4.String()+" https:8443/ (up): warning: tls: certificate expires in 3.0 days")
	}, ag.logs)
	// The operator raises the bar to 5 days: now it is down, with the days.
	os.WriteFile(ag.cfg, []byte(checksConfig(httpAddr, l.web, l.other, "all", webChecks(l.web, l.caFile, 5))), 0o600)
	ag.cmd.Process.Signal(syscall.SIGHUP)
	downFor(t, ag, l, "https:8443/: tls: certificate expires in 3.0 days", func() { l.cert.Set(l.certs.Valid) })
	if !strings.Contains(ag.logs.String(), "under tls_min_days_left 5") {
		t.Error("the down reason does not name tls_min_days_left")
	}

	// /status and goavail status show each check, and the reason while failing.
	l.handler.Set(testweb.Status503)
	eventually(t, "status shows the failing check", func() bool {
		var out strings.Builder
		if err := statusCmd(t.Context(), agentTarget{url: "http://" + httpAddr}, false, &out); err != nil {
			return false
		}
		return strings.Contains(out.String(), l.web.V4.String()+" https:8443/ (down): status 503")
	}, ag.logs)
	if body := get(t, "http://"+httpAddr+"/metrics"); !strings.Contains(body, `goavail_check_probes_total{result="fail",type="https"}`) ||
		!strings.Contains(body, `goavail_check_duration_seconds_bucket{type="tcp"`) || !strings.Contains(body, `goavail_check_probes_total{result="ok",type="icmp"}`) {
		t.Errorf("check metrics missing:\n%s", body)
	}
	ag.stop(t)
}

// TestE2E_ChecksMixedAllAndAny: one address with an ICMP and an HTTPS
// check. With match = "all" a 503 alone takes it out, and the transition
// webhook says why; switched to "any" the ping keeps it in; with ping gone
// too it goes, both reasons in the line.
func TestE2E_ChecksMixedAllAndAny(t *testing.T) {
	l := newCheckLab(t, 112)
	mixed := fmt.Sprintf(`
[[Cloudflare.Checks]]
type = "icmp"
addresses = [%[1]q]

[[Cloudflare.Checks]]
type = "https"
port = 8443
addresses = [%[1]q]
tls_ca_file = %[2]q
timeout = "400ms"
interval = "500ms"
`, l.web.V4, l.caFile)
	rcv := &webhookReceiver{}
	hooks := httptest.NewServer(rcv)
	defer hooks.Close()
	mixed += fmt.Sprintf("\n[[Webhooks]]\nurl = %q\nevents = [\"transition\"]\n", hooks.URL+"/hook")
	http := freeAddr(t)
	ag := l.start(checksConfig(http, l.web, l.other, "all", mixed), "--no-dry-run")
	eventually(t, "both up", bothUp(ag, l.web, l.other), ag.logs)

	l.handler.Set(testweb.Status503)
	eventually(t, "all: the 503 alone takes web out", func() bool { return !l.has(l.web) }, ag.logs)
	if !strings.Contains(ag.logs.String(), saw(l.web, "up", "down")+` reason="https:8443/: status 503`) {
		t.Errorf("no transition line with the 503")
	}

	eventually(t, "the transition webhook carries the reason", func() bool {
		return rcv.has(`"address":"`+l.web.V4.String()+`"`, `"to":"down"`, "https:8443/: status 503 (Service Unavailable), want 2xx")
	}, ag.logs)

	os.WriteFile(ag.cfg, []byte(checksConfig(http, l.web, l.other, "any", mixed)), 0o600)
	ag.cmd.Process.Signal(syscall.SIGHUP)
	eventually(t, "any: ping alone brings web back", func() bool { return l.has(l.web) }, ag.logs)

	l.web.IgnoreEcho(true)
	eventually(t, "any: ping gone too takes web out", func() bool { return !l.has(l.web) }, ag.logs)
	found := false
	for _, ln := range strings.Split(ag.logs.String(), "\n") {
		found = found || (strings.Contains(ln, saw(l.web, "up", "down")) && strings.Contains(ln, "icmp: no reply to the last 2 probes") && strings.Contains(ln, "https:8443/: status 503"))
	}
	if !found {
		t.Errorf("no transition line with both reasons")
	}
	l.web.IgnoreEcho(false)
	eventually(t, "any: ping back, web back", func() bool { return l.has(l.web) }, ag.logs)
	ag.stop(t)
}

// TestE2E_OriginalPortsKey: a config written for the original goavail with
// ports = [9000] checks TCP 9000 on every address, says so once, and
// takes an address out when its port refuses.
func TestE2E_OriginalPortsKey(t *testing.T) {
	l := newCheckLab(t, 113)
	ln, err := l.other.Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	testweb.AcceptAndClose(ln)
	t.Cleanup(func() { ln.Close() })
	// Timeouts with room for a loaded machine: a spurious timeout must not
	// take the address down before the port refuses.
	cfg := strings.NewReplacer(`interval = "200ms"`, `interval = "500ms"`, `probe_timeout = "150ms"`, `probe_timeout = "400ms"`,
		"reconcile_period", "ports = [9000]\nflap_half_life = 0\nreconcile_period").Replace(labConfig(freeAddr(t), l.web, l.other))
	ag := l.start(cfg, "--no-dry-run")
	eventually(t, "both up", bothUp(ag, l.web, l.other), ag.logs)
	if n := strings.Count(ag.logs.String(), "ports = [9000] (the original goavail's key)"); n != 1 {
		t.Errorf("the ports notice appears %d times, want once", n)
	}
	l.web.IgnoreEcho(true) // ping no longer matters: the port does
	l.tcp.Close()
	downFor(t, ag, l, "tcp:9000: connect: connection refused", func() { l.openTCP(t) })
	ag.stop(t)
}

// TestE2E_ChecksWithoutICMPPrivilege: with only TCP and HTTP checks, an
// agent that cannot open an ICMP socket runs (as nobody, no capability)
// and says so, instead of exiting.
func TestE2E_ChecksWithoutICMPPrivilege(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv is not installed (make test-deps installs util-linux); cannot drop privileges for this test")
	}
	l := newE2ELab(t, 115, labOpts{hosts: 1, noEmulator: true})
	lab, h, bin := l.lab, l.hosts[0], l.bin
	ln, err := net.Listen("tcp", lab.Gateway().String()+":0") // in the root namespace, reached from h's
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	testweb.Serve(t, ln, nil, &testweb.Handler{})
	port := ln.Addr().(*net.TCPAddr).Port
	cfg := filepath.Join(t.TempDir(), "goavail.toml")
	for _, dir := range []string{filepath.Dir(cfg), filepath.Dir(filepath.Dir(cfg))} {
		os.Chmod(dir, 0o755)
	}
	os.WriteFile(cfg, []byte(fmt.Sprintf(`http_listen = ""
failure_threshold = 2
interval = "200ms"
[Cloudflare]
dns_domain = "example.com"
hostnames = ["www"]
ip_addresses = [%q]
[[Cloudflare.Checks]]
type = "tcp"
port = %d
[[Cloudflare.Checks]]
type = "http"
port = %d
`, lab.Gateway(), port, port)), 0o644)
	a := &proc{logs: &syncBuffer{}}
	a.cmd = exec.Command("ip", "netns", "exec", h.NS, setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin, "monitor", "--config-file", cfg)
	a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.cmd.Process.Kill(); a.cmd.Wait() })
	eventually(t, "up through TCP and HTTP without ICMP", func() bool {
		l := a.logs.String()
		return strings.Contains(l, "no ICMP socket: running without ICMP") && strings.Contains(l, "addr="+lab.Gateway().String()+" from=unknown to=up")
	}, a.logs)
	a.stop(t)
}
