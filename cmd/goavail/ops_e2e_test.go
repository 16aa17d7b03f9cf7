package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/goavail/goavail/agent"
)

func get(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, res.Status, b)
	}
	return string(b)
}

func post(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// webhookReceiver fails the first fail requests with a 500.
type webhookReceiver struct {
	mu     sync.Mutex
	fail   int
	n, ok  int
	bodies []string
}

func (r *webhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.n <= r.fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	r.ok++
	r.bodies = append(r.bodies, string(b))
}

func (r *webhookReceiver) has(parts ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
next:
	for _, b := range r.bodies {
		for _, p := range parts {
			if !strings.Contains(b, p) {
				continue next
			}
		}
		return true
	}
	return false
}

func (r *webhookReceiver) attempts() int { r.mu.Lock(); defer r.mu.Unlock(); return r.n }
func (r *webhookReceiver) accepted() int { r.mu.Lock(); defer r.mu.Unlock(); return r.ok }

// value finds one sample by metric name and labels in parsed families.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestE2E_MetricsStatusReloadAndSecrets takes a host down under the real
// binary, then checks /metrics (parsed with the Prometheus text parser),
// /status, goavail status, POST /-/reload, and that neither the API token
// nor the crypto key appears in the logs, /status, /metrics, the status
// page or /history.
func TestE2E_MetricsStatusReloadAndSecrets(t *testing.T) {
	l := newE2ELab(t, 24, labOpts{seedTTL: 60})
	a, b, bin, emu := l.hosts[0], l.hosts[1], l.bin, l.emu
	const cryptoKey = "k3y-n0t-f0r-l0gs"
	addr := freeAddr(t)
	hookOut := filepath.Join(t.TempDir(), "hook.env")
	rcv := &webhookReceiver{fail: 1}
	hooksrv := httptest.NewServer(rcv)
	defer hooksrv.Close()
	cfg := labConfig(addr, a, b) + "\n[Members]\ncrypto_key = \"" + cryptoKey + "\"\n" +
		"[[Hooks]]\ncommand = [\"/bin/sh\", \"-c\", \"env | grep ^GOAVAIL_ | sort >> \\\"$0\\\"; echo --- >> \\\"$0\\\"\", \"" + hookOut + "\"]\nevents = [\"dns_change\"]\n" +
		"[[Webhooks]]\nurl = \"env:TEST_WEBHOOK_URL\"\nevents = [\"dns_change\", \"transition\"]\n"
	t.Setenv("TEST_WEBHOOK_URL", hooksrv.URL+"/hook/s3cr3t")
	ag := l.start(cfg, "--no-dry-run", "--log-level", "debug")
	base := "http://" + addr
	eventually(t, "both hosts up", bothUp(ag, a, b), ag.logs)

	a.IgnoreEcho(true)
	eventually(t, "a's record removed", func() bool { return !has(emu, "www.example.com", "A", a.V4.String()) }, ag.logs)

	// The hook ran with the change in its environment; the webhook got it
	// after a 500.
	eventually(t, "the hook ran for the deletion", func() bool {
		b, _ := os.ReadFile(hookOut)
		return strings.Contains(string(b), "GOAVAIL_ACTION=delete") && strings.Contains(string(b), "GOAVAIL_CONTENT="+a.V4.String()) &&
			strings.Contains(string(b), "GOAVAIL_MODE=applied") && strings.Contains(string(b), "GOAVAIL_EVENT=dns_change")
	}, ag.logs)
	eventually(t, "the webhook got the deletion after a retry", func() bool {
		return rcv.has(`"kind":"dns_change"`, `"action":"delete"`, `"content":"`+a.V4.String()+`"`) && rcv.attempts() > rcv.accepted()
	}, ag.logs)

	metrics := get(t, base+"/metrics")
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(metrics))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, metrics)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		check  func(float64) bool
		want   string
	}{
		{"goavail_target_up", map[string]string{"address": a.V4.String()}, func(v float64) bool { return v == 0 }, "0"},
		{"goavail_target_up", map[string]string{"address": b.V4.String()}, func(v float64) bool { return v == 1 }, "1"},
		{"goavail_agreed_up", map[string]string{"address": a.V4.String()}, func(v float64) bool { return v == 0 }, "0"},
		{"goavail_target_state", map[string]string{"address": a.V4.String(), "state": "down"}, func(v float64) bool { return v == 1 }, "1"},
		{"goavail_target_transitions_total", map[string]string{"address": a.V4.String(), "to": "down"}, func(v float64) bool { return v == 1 }, "1"},
		{"goavail_probes_total", map[string]string{"result": "lost"}, func(v float64) bool { return v >= 2 }, "≥ 2"},
		{"goavail_probe_rtt_seconds", nil, func(v float64) bool { return v > 0 }, "> 0 samples"},
		{"goavail_dns_api_requests_total", map[string]string{"operation": "batch", "result": "ok"}, func(v float64) bool { return v >= 1 }, "≥ 1"},
		{"goavail_dns_changes_total", map[string]string{"zone": "example.com", "action": "delete", "mode": "applied"}, func(v float64) bool { return v == 1 }, "1"},
		{"goavail_reconcile_last_success_timestamp_seconds", nil, func(v float64) bool { return v > 1.7e9 }, "a recent time"},
		{"goavail_cluster_is_writer", nil, func(v float64) bool { return v == 1 }, "1"},
		{"goavail_dry_run", nil, func(v float64) bool { return v == 0 }, "0"},
		{"goavail_notifications_dropped_total", nil, func(v float64) bool { return v == 0 }, "0"},
		{"goavail_build_info", nil, func(v float64) bool { return v == 1 }, "1"},
	} {
		v, ok := value(t, fams, c.name, c.labels)
		if !ok || !c.check(v) {
			t.Errorf("%s%v = %v (present %v), want %s", c.name, c.labels, v, ok, c.want)
		}
	}

	status := get(t, base+"/status")
	var doc agent.StatusDoc
	if err := json.Unmarshal([]byte(status), &doc); err != nil {
		t.Fatalf("/status: %v\n%s", err, status)
	}
	var sawA bool
	for _, tg := range doc.Targets {
		if tg.Addr == a.V4.String() {
			sawA = tg.State == "down" && tg.Agreed == "down" && !tg.Since.IsZero()
		}
	}
	if !sawA || !doc.IsWriter || doc.Pass == nil || doc.Pass.Mode != "applied" {
		t.Errorf("/status does not show a down and this agent writing:\n%s", status)
	}
	out, err := exec.Command(bin, "status", "--addr", base).CombinedOutput()
	if err != nil || !strings.Contains(string(out), a.V4.String()+"  down") || !strings.Contains(string(out), "writer") {
		t.Errorf("goavail status: %v\n%s", err, out)
	}

	if code, body := post(t, base+"/-/reload"); code != http.StatusOK {
		t.Errorf("reload of a valid file: %d %s", code, body)
	}
	os.WriteFile(ag.cfg, []byte("failure_threshold = 0\n"), 0o600)
	if code, body := post(t, base+"/-/reload"); code != http.StatusBadRequest || !strings.Contains(body, "failure_threshold") {
		t.Errorf("reload of a bad file: %d %s", code, body)
	}
	page, hist := get(t, base+"/"), get(t, base+"/history") // the status page and the history, with the refused reload
	if !strings.Contains(hist, `"kind":"reload"`) || !strings.Contains(page, a.V4.String()) {
		t.Errorf("the history lacks the reloads, or the status page the down host:\n%s", hist)
	}
	ag.stop(t)
	for where, text := range map[string]string{"logs": ag.logs.String(), "/status": status, "/metrics": metrics, "the status page": page, "/history": hist} {
		for name, secret := range map[string]string{"API token": emu.Token, "crypto key": cryptoKey, "webhook URL": "s3cr3t"} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s appears in %s", name, where)
			}
		}
	}
}

// TestE2E_RunsWithoutRoot runs the binary as nobody inside a test host's
// namespace three ways: with CAP_NET_RAW alone (raw socket), with no
// capability and the default ping_group_range (a clear error naming the
// three fixes, exit 1), and with ping_group_range opened (ping socket).
func TestE2E_RunsWithoutRoot(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv is not installed (make test-deps installs util-linux); cannot drop privileges for this test")
	}
	l := newE2ELab(t, 25, labOpts{hosts: 1, noEmulator: true})
	lab, h, bin := l.lab, l.hosts[0], l.bin
	cfg := filepath.Join(t.TempDir(), "goavail.toml")
	for _, dir := range []string{filepath.Dir(cfg), filepath.Dir(filepath.Dir(cfg))} { // t.TempDir is private to root; nobody must read the config
		os.Chmod(dir, 0o755)
	}
	os.WriteFile(cfg, []byte(`http_listen = ""
failure_threshold = 2
interval = "200ms"
[Cloudflare]
dns_domain = "example.com"
hostnames = ["www"]
ip_addresses = ["`+lab.Gateway().String()+`"]
`), 0o644)
	run := func(caps bool) (*proc, *exec.Cmd) {
		args := []string{"netns", "exec", h.NS, setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"}
		if caps {
			args = append(args, "--inh-caps=+net_raw", "--ambient-caps=+net_raw")
		}
		a := &proc{logs: &syncBuffer{}}
		a.cmd = exec.Command("ip", append(args, bin, "monitor", "--config-file", cfg)...)
		a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
		if err := a.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.cmd.Process.Kill(); a.cmd.Wait() })
		return a, a.cmd
	}
	up := "addr=" + lab.Gateway().String() + " from=unknown to=up"

	a, _ := run(true)
	eventually(t, "raw socket as nobody with CAP_NET_RAW", func() bool {
		return strings.Contains(a.logs.String(), "ipv4_privileged=true") && strings.Contains(a.logs.String(), up)
	}, a.logs)
	a.stop(t)

	b, cmd := run(false)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitRuntime || !strings.Contains(b.logs.String(), "CAP_NET_RAW") || !strings.Contains(b.logs.String(), "ping_group_range") {
		t.Errorf("without privileges: %v, want exit %d naming the fixes\n%s", err, exitRuntime, b.logs)
	}

	if out, err := exec.Command("ip", "netns", "exec", h.NS, "sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647").CombinedOutput(); err != nil {
		t.Fatalf("sysctl: %v %s", err, out)
	}
	c, _ := run(false)
	eventually(t, "ping socket as nobody", func() bool {
		return strings.Contains(c.logs.String(), "ipv4_privileged=false") && strings.Contains(c.logs.String(), up)
	}, c.logs)
	c.stop(t)
}
