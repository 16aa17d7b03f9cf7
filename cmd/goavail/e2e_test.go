package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/goavail/goavail/internal/cfemu"
	"github.com/goavail/goavail/internal/netlab"
)

// syncBuffer collects a child's output for polling.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// binary is the goavail built for this test process, once, on first use.
var binary struct {
	once sync.Once
	dir  string
	path string
	out  []byte
	err  error
}

// TestMain removes the binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	if plainBinary.dir != "" {
		os.RemoveAll(plainBinary.dir)
	}
	os.Exit(code)
}

// buildBinary compiles goavail (with -race) once per test process and
// returns its path. The directory is world-readable so that tests can run
// it as another user.
func buildBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		if binary.dir, binary.err = os.MkdirTemp("", "goavail-e2e-"); binary.err != nil {
			return
		}
		os.Chmod(binary.dir, 0o755)
		binary.path = filepath.Join(binary.dir, "goavail")
		binary.out, binary.err = exec.Command("go", "build", "-race", "-o", binary.path, ".").CombinedOutput()
	})
	if binary.err != nil {
		t.Fatalf("build: %v\n%s", binary.err, binary.out)
	}
	return binary.path
}

// eventually polls cond until it holds; the bound is patience, not a
// performance target.
func eventually(t *testing.T, what string, cond func() bool, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for: %s\nlogs:\n%s", what, logs)
}

type proc struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	cfg  string
}

// startAgent runs goavail monitor on config against the emulator.
func startAgent(t *testing.T, bin string, emu *cfemu.Server, config string, args ...string) *proc {
	t.Helper()
	return launch(t, nil, bin, emu, config, args...)
}

// launch writes config and starts bin monitor, behind prefix (e.g. ip netns
// exec NS) when given.
func launch(t *testing.T, prefix []string, bin string, emu *cfemu.Server, config string, args ...string) *proc {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "goavail.toml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &proc{logs: &syncBuffer{}, cfg: cfg}
	argv := append(append(slices.Clone(prefix), bin, "monitor", "--config-file", cfg), args...)
	a.cmd = exec.Command(argv[0], argv[1:]...)
	a.cmd.Env = append(os.Environ(), "CLOUDFLARE_BASE_URL="+emu.BaseURL(), "CLOUDFLARE_API_TOKEN="+emu.Token)
	a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.cmd.Process.Kill(); a.cmd.Wait() })
	return a
}

// stop sends SIGTERM and checks for a clean exit.
func (a *proc) stop(t *testing.T) {
	t.Helper()
	a.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- a.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("goavail exited with %v\n%s", err, a.logs)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("goavail did not stop on SIGTERM\n%s", a.logs)
	}
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	return freeAddrTB(t)
}

// testPorts hands out loopback ports below the kernel's ephemeral range
// (32768-60999): a port the kernel picked for a bind to :0 and that the
// test then freed can be handed again to any outgoing connection (the
// agent's own to the emulator) before the agent binds it, which failed a
// CI run with "the port is taken". Ports below the range are only ever
// taken by a bind, and each is tried before it is handed out.
var testPorts atomic.Int32

func init() { testPorts.Store(int32(os.Getpid() % 8000)) }

func labConfig(httpAddr string, hosts ...*netlab.Host) string {
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

[Cloudflare]
dns_domain = "example.com"
hostnames = ["www"]
ip_addresses = [%s]
ttl = 120
comment = "goavail e2e"
`, httpAddr, strings.Join(ips, ", "))
}

func has(emu *cfemu.Server, name, typ, content string) bool {
	for _, r := range emu.Records("example.com") {
		if r.Name == name && r.Type == typ && r.Content == content {
			return true
		}
	}
	return false
}

// TestE2E_HostDownAndUp runs the real binary against namespaced hosts and
// the API emulator: a host's record goes when it stops answering and comes
// back when it answers again; unmanaged records are never touched; hand
// edits (a managed record deleted while up, or added while down) heal
// within the reconcile period; a bad reload is rejected; SIGTERM stops it
// cleanly.
func TestE2E_HostDownAndUp(t *testing.T) {
	l := newE2ELab(t, 21, labOpts{})
	a, b, emu := l.hosts[0], l.hosts[1], l.emu
	ra := l.seed(cfemu.Record{TTL: 300}, a, b)[0]
	unmanaged := []cfemu.Record{
		emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "TXT", Content: "v=spf1 -all"}),
		emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "198.51.100.7"}),
		emu.Seed("example.com", cfemu.Record{Name: "mail.example.com", Type: "A", Content: a.V4.String()}),
	}

	ag := l.start(labConfig(freeAddr(t), a, b), "--no-dry-run")
	eventually(t, "both hosts up", bothUp(ag, a, b), ag.logs)

	a.IgnoreEcho(true)
	eventually(t, "a's record removed", func() bool { return !has(emu, "www.example.com", "A", a.V4.String()) }, ag.logs)
	if !has(emu, "www.example.com", "A", b.V4.String()) {
		t.Fatalf("b's record went too: %v", emu.Records("example.com"))
	}

	a.IgnoreEcho(false)
	eventually(t, "a's record restored", func() bool { return has(emu, "www.example.com", "A", a.V4.String()) }, ag.logs)
	for _, r := range emu.Records("example.com") {
		if r.Content == a.V4.String() && r.Name == "www.example.com" {
			// The remembered comment and tags come back; ttl and proxied
			// are what the config says now (ttl 120).
			if r.ID == ra.ID || r.TTL != 120 || r.Comment != ra.Comment || r.Proxied != ra.Proxied {
				t.Errorf("restored record = %+v, want a new record with the removed one's comment %q and the configured ttl 120", r, ra.Comment)
			}
		}
	}
	got := emu.Records("example.com")
	for _, u := range unmanaged {
		found := false
		for _, r := range got {
			found = found || (r.ID == u.ID && r.Content == u.Content && r.Name == u.Name && r.Type == u.Type)
		}
		if !found {
			t.Errorf("unmanaged record %s was touched: %v", u, got)
		}
	}

	// Drift: a managed record deleted by hand while its address is up comes
	// back within the reconcile period (2s here), with no transition.
	for _, r := range emu.Records("example.com") {
		if r.Name == "www.example.com" && r.Content == b.V4.String() {
			emu.Remove("example.com", r.ID)
		}
	}
	eventually(t, "hand-deleted record healed", func() bool { return has(emu, "www.example.com", "A", b.V4.String()) }, ag.logs)
	for _, r := range emu.Records("example.com") { // goavail never removed it: it gets the configured values
		if r.Name == "www.example.com" && r.Content == b.V4.String() && (r.TTL != 120 || r.Comment != "goavail e2e") {
			t.Errorf("healed record = %+v, want ttl 120 and the configured comment", r)
		}
	}

	// A bad reload is rejected and the agent goes on.
	os.WriteFile(ag.cfg, []byte("failure_threshold = 0\n"), 0o600)
	ag.cmd.Process.Signal(syscall.SIGHUP)
	eventually(t, "bad reload rejected", func() bool { return strings.Contains(ag.logs.String(), "reload rejected") }, ag.logs)
	b.SetLink(false)
	eventually(t, "still acting after a rejected reload", func() bool { return !has(emu, "www.example.com", "A", b.V4.String()) }, ag.logs)

	// Drift: a record added by hand for the down address goes again.
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: b.V4.String(), TTL: 300})
	eventually(t, "hand-added record for a down address removed", func() bool { return !has(emu, "www.example.com", "A", b.V4.String()) }, ag.logs)
	ag.stop(t)
}

// TestE2E_DryRunNeverWrites runs the same outage without --no-dry-run: the
// plan is logged and no write request reaches the API.
func TestE2E_DryRunNeverWrites(t *testing.T) {
	l := newE2ELab(t, 22, labOpts{seedTTL: 60})
	a, b, emu := l.hosts[0], l.hosts[1], l.emu

	ag := l.start(labConfig(freeAddr(t), a, b))
	eventually(t, "both hosts up", bothUp(ag, a, b), ag.logs)
	a.SetLink(false)
	eventually(t, "dry-run plan logged", func() bool {
		return strings.Contains(ag.logs.String(), "dry-run: would delete dns record") && strings.Contains(ag.logs.String(), a.V4.String())
	}, ag.logs)
	ag.stop(t)
	reads := 0
	for _, r := range emu.Requests() {
		if r.Write() {
			t.Errorf("dry-run sent a write: %+v", r)
		}
		reads++
	}
	if reads == 0 {
		t.Errorf("dry-run never read the zone")
	}
	if len(emu.Records("example.com")) != 2 {
		t.Errorf("records changed: %v", emu.Records("example.com"))
	}
}

// bothUp reports when the agent has seen both hosts come up (its own
// transitions; the agreement logs the same words as well).
func bothUp(ag *proc, a, b *netlab.Host) func() bool {
	return func() bool {
		l := ag.logs.String()
		return strings.Contains(l, saw(a, "unknown", "up")) && strings.Contains(l, saw(b, "unknown", "up"))
	}
}
