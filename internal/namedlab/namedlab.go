// Package namedlab runs a real BIND named for tests: one primary zone on
// a loopback address and port of its own, a TSIG key granted updates to
// the zone, all in a temporary directory, stopped when the test ends.
package namedlab

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// KeyName is the TSIG key the server grants updates to.
const KeyName = "goavail."

// Server is a running named.
type Server struct {
	Addr   string // host:port it answers on (UDP and TCP)
	Zone   string // the zone it serves, no trailing dot
	Secret string // the TSIG key's secret, base64
	logs   *syncBuffer
	dir    string // its directory: the zone file and its journal
}

// Skip skips t when named cannot be run here: not root, or no named. In
// CI (CI set) a missing named fails the test instead: make test-deps
// installs it.
func Skip(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("named"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("named is not installed (make test-deps installs bind9): %v", err)
		}
		t.Skip("named is not installed; make test-deps installs bind9")
	}
	if os.Geteuid() != 0 {
		t.Skip("these tests run named on a loopback address of their own, which needs root")
	}
}

// Start runs named serving zone with the records given in zone-file
// syntax (owner names relative to the zone, e.g. "www 300 IN A 192.0.2.1"),
// with the TSIG key KeyName (hmac-sha256) granted updates to the whole
// zone. It returns once named answers for the zone.
func Start(t testing.TB, zone string, records ...string) *Server {
	t.Helper()
	return Run(t, Options{Zone: zone, Records: records})
}

// StartPolicy is Start with the zone's update-policy statements given,
// e.g. "grant goavail. name other.example.com. A;".
func StartPolicy(t testing.TB, zone, policy string, records ...string) *Server {
	t.Helper()
	return Run(t, Options{Zone: zone, Policy: policy, Records: records})
}

// Options say how Run sets named up.
type Options struct {
	Zone    string   // the zone, no trailing dot
	Records []string // as for Start
	// Policy is the zone's update-policy statements; default: grant the
	// key updates to the whole zone.
	Policy string
	// Algorithm is the key's algorithm as BIND names it; default
	// hmac-sha256.
	Algorithm string
	// Addr is the address to listen on, one an interface has (a lab's
	// gateway, for agents in the lab's namespaces); default 127.0.0.1.
	// It may be an IPv6 address (::1).
	Addr string
	// Port is the port to listen on; default a free one (FreePort finds
	// one free on several addresses, for a primary and a secondary).
	Port int
	// NotifyTo are the servers the primary sends NOTIFY to at every
	// change, as BIND's also-notify has them ("::1 port 5300"); default
	// none (notify explicit: never the NS set's port 53).
	NotifyTo []string
	// Primary, if set, makes the zone a secondary that transfers it from
	// this primary ("127.0.0.1 port 5300"); Records and Policy are then
	// unused. It refreshes on a NOTIFY (from anyone) or after the SOA's
	// refresh (an hour).
	Primary string
}

// Run starts named as o says; see Start.
func Run(t testing.TB, o Options) *Server {
	t.Helper()
	zone, records, policy := o.Zone, o.Records, o.Policy
	if policy == "" {
		policy = "grant " + KeyName + " zonesub ANY;"
	}
	if o.Algorithm == "" {
		o.Algorithm = "hmac-sha256"
	}
	Skip(t)
	dir := t.TempDir()
	secret := make([]byte, 32)
	rand.Read(secret)
	s := &Server{Zone: zone, Secret: base64.StdEncoding.EncodeToString(secret), logs: &syncBuffer{}, dir: dir}
	ip := o.Addr
	if ip == "" {
		ip = loopback(t)
	}
	if o.Port == 0 {
		o.Port = freePort(t, ip)
	}
	s.Addr = net.JoinHostPort(ip, fmt.Sprint(o.Port))
	_, port, _ := net.SplitHostPort(s.Addr)

	nsType := "A"
	listen := fmt.Sprintf("listen-on port %s { %s; };\n\tlisten-on-v6 { none; };", port, ip)
	if net.ParseIP(ip).To4() == nil {
		nsType = "AAAA"
		listen = fmt.Sprintf("listen-on { none; };\n\tlisten-on-v6 port %s { %s; };", port, ip)
	}
	zoneFile := fmt.Sprintf("$ORIGIN %s.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN %s %s\n%s\n", zone, nsType, ip, strings.Join(records, "\n"))
	zoneStmt := zoneStatement(o, policy, filepath.Join(dir, zone+".zone"))
	conf := fmt.Sprintf(`options {
	directory %q;
	pid-file %q;
	%s
	recursion no;
	dnssec-validation no;
	allow-query { any; };
	session-keyfile %q;
	managed-keys-directory %q;
};
controls { };
key %q { algorithm %s; secret %q; };
zone %q {
%s};
`, dir, filepath.Join(dir, "named.pid"), listen, filepath.Join(dir, "session.key"), dir, KeyName, o.Algorithm, s.Secret, zone, zoneStmt)
	confPath := filepath.Join(dir, "named.conf")
	files := map[string]string{confPath: conf}
	if o.Primary == "" {
		files[filepath.Join(dir, zone+".zone")] = zoneFile
	}
	for p, c := range files {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("named", "-g", "-c", confPath, "-u", "root", "-n", "1")
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start named: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("named exited: %v\n%s", err, s.logs)
		default:
		}
		if s.answers() {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("named did not answer for %s on %s within 20s\n%s", zone, s.Addr, s.logs)
		}
		time.Sleep(20 * time.Millisecond) // polling for named's start, not standing in for an event
	}
}

// answers reports whether named serves the zone's SOA.
func (s *Server) answers() bool {
	r, err := s.exchange(s.Zone, mdns.TypeSOA)
	return err == nil && r.Rcode == mdns.RcodeSuccess && r.Authoritative
}

func (s *Server) exchange(name string, typ uint16) (*mdns.Msg, error) {
	q := new(mdns.Msg)
	q.SetQuestion(mdns.Fqdn(name), typ)
	c := &mdns.Client{Net: "tcp", Timeout: 2 * time.Second}
	r, _, err := c.Exchange(q, s.Addr)
	return r, err
}

// Lookup returns the data of the records of name and type, as
// "192.0.2.1" for A and AAAA and the joined strings for TXT.
func (s *Server) Lookup(t testing.TB, name, typ string) []string {
	t.Helper()
	r, err := s.exchange(name, mdns.StringToType[typ])
	if err != nil {
		t.Fatalf("query %s %s on named: %v", name, typ, err)
	}
	var out []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *mdns.A:
			out = append(out, v.A.String())
		case *mdns.AAAA:
			out = append(out, v.AAAA.String())
		case *mdns.TXT:
			out = append(out, strings.Join(v.Txt, ""))
		default:
			out = append(out, strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
	}
	return out
}

// Update sends an UPDATE built by build, signed with the key; it returns
// the answer's rcode.
func (s *Server) Update(t testing.TB, build func(m *mdns.Msg)) int {
	t.Helper()
	m := new(mdns.Msg)
	m.SetUpdate(mdns.Fqdn(s.Zone))
	build(m)
	m.SetTsig(KeyName, mdns.HmacSHA256, 300, time.Now().Unix())
	c := &mdns.Client{Net: "tcp", Timeout: 5 * time.Second, TsigSecret: map[string]string{KeyName: s.Secret}}
	r, _, err := c.Exchange(m, s.Addr)
	if err != nil {
		t.Fatalf("update on named: %v", err)
	}
	return r.Rcode
}

// RR parses one record in zone-file syntax, with a fully qualified owner.
func RR(t testing.TB, s string) mdns.RR {
	t.Helper()
	rr, err := mdns.NewRR(s)
	if err != nil {
		t.Fatalf("record %q: %v", s, err)
	}
	return rr
}

// Logs is what named wrote.
func (s *Server) Logs() string { return s.logs.String() }

// loopback is the address named listens on: named listens only on
// addresses an interface has, so 127.0.0.1, with a port of its own.
func loopback(testing.TB) string { return "127.0.0.1" }

// freePort finds a port free for both TCP and UDP on ip.
func freePort(t testing.TB, ip string) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatalf("find a free port on %s: %v", ip, err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort(ip, fmt.Sprint(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatalf("no port free for both TCP and UDP on %s", ip)
	return 0
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
