package netlab

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Lab is one bridge and the hosts on it.
type Lab struct {
	t      testing.TB
	prefix string // interface and namespace name prefix, unique per lab
	net    int    // third octet: 198.18.<net>.0/24, 2001:2:0:<net>::/64
	Bridge string
	hosts  int
}

// Host is one test host: a network namespace with one veth into the bridge.
type Host struct {
	lab    *Lab
	NS     string
	V4, V6 netip.Addr
	link   string // root-side veth

	rulesMoved bool // DropFrom has freed rule priority 0
}

// RequireRoot skips the test when it cannot build namespaces, naming why.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces (ip netns add) and opens ICMP sockets; CI runs as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("the ip command (iproute2) is missing: apt-get install -y iproute2")
	}
}

// New makes a bridge for subnet 198.18.<subnet>.0/24 and 2001:2:0:<subnet>::/64.
// Tests in one process running at the same time must use different subnets
// (1..254). Across processes (two checkouts testing at once) a subnet is
// held under a file lock for the lab's life, so a second user waits for it
// instead of sharing its addresses or sweeping its live namespaces.
func New(t testing.TB, subnet int) *Lab {
	t.Helper()
	RequireRoot(t)
	release := guard(t)
	unlock := lockFile(t, fmt.Sprintf("/run/goavail-netlab-subnet-%d.lock", subnet))
	l := &Lab{t: t, prefix: fmt.Sprintf("ga%03x%02x", os.Getpid()%4096, subnet%256), net: subnet}
	l.Bridge = l.prefix + "br"
	t.Cleanup(func() {
		l.run("ip", "link", "del", l.Bridge)
		release()
		unlock()
	})
	l.sweep()
	l.must("ip", "link", "add", l.Bridge, "type", "bridge")
	l.must("ip", "addr", "add", fmt.Sprintf("198.18.%d.1/24", subnet), "dev", l.Bridge)
	l.must("ip", "-6", "addr", "add", fmt.Sprintf("2001:2:0:%x::1/64", subnet), "dev", l.Bridge, "nodad")
	l.must("ip", "link", "set", l.Bridge, "up")
	return l
}

// Gateway is the root namespace's IPv4 address on the bridge.
func (l *Lab) Gateway() netip.Addr { return netip.MustParseAddr(fmt.Sprintf("198.18.%d.1", l.net)) }

// AddHost makes a namespace on the bridge that answers ping on a new IPv4
// and IPv6 address.
func (l *Lab) AddHost() *Host {
	l.t.Helper()
	l.hosts++
	n := l.hosts + 9
	h := &Host{lab: l, NS: fmt.Sprintf("%sh%d", l.prefix, n), link: fmt.Sprintf("%sv%d", l.prefix, n),
		V4: netip.MustParseAddr(fmt.Sprintf("198.18.%d.%d", l.net, n)),
		V6: netip.MustParseAddr(fmt.Sprintf("2001:2:0:%x::%x", l.net, n))}
	l.run("ip", "netns", "del", h.NS)
	l.must("ip", "netns", "add", h.NS)
	l.t.Cleanup(func() { l.run("ip", "netns", "del", h.NS) })
	l.must("ip", "link", "add", h.link, "type", "veth", "peer", "name", "eth0", "netns", h.NS)
	l.must("ip", "link", "set", h.link, "master", l.Bridge, "up")
	l.must("ip", "-n", h.NS, "addr", "add", h.V4.String()+"/24", "dev", "eth0")
	l.must("ip", "-n", h.NS, "-6", "addr", "add", h.V6.String()+"/64", "dev", "eth0", "nodad")
	l.must("ip", "-n", h.NS, "link", "set", "lo", "up")
	l.must("ip", "-n", h.NS, "link", "set", "eth0", "up")
	l.must("ip", "-n", h.NS, "route", "add", "default", "via", l.Gateway().String())
	return h
}

// RemoteWork moves the host's work out of the sender's system calls. A
// plain veth runs the receiver's whole stack inline in the sender's
// sendmsg: here, answering every echo request and delivering the reply.
// With GRO on, the host's end receives through NAPI, and threaded NAPI
// polls in a kernel thread of its own ("napi/eth0-N"), which then also
// carries the reply back up to the sender's socket. A benchmark then
// charges a prober for its own work only, as with a remote host, and
// LabCPU tells the lab's part. It needs ethtool (make bench installs it).
func (h *Host) RemoteWork() {
	h.lab.t.Helper()
	// A veth hands a packet to NAPI only if the sending end has no TSO:
	// veth_skb_is_eligible_for_gro.
	h.lab.must("ethtool", "-K", h.link, "tso", "off")
	h.lab.must("ip", "netns", "exec", h.NS, "ethtool", "-K", "eth0", "gro", "on")
	h.lab.must("ip", "netns", "exec", h.NS, "sh", "-c", "echo 1 > /sys/class/net/eth0/threaded")
	// The NAPI ring holds 256 packets. With a queue in front of it, a
	// full ring stops the sender's queue (Linux 6.17 on) rather than
	// dropping, as a real NIC's would.
	h.lab.must("tc", "qdisc", "replace", "dev", h.link, "root", "pfifo", "limit", "100000")
}

// LabCPU is the CPU time the kernel threads of RemoteWork's NAPI have used
// so far, for both ends of the host's veth.
func (h *Host) LabCPU() time.Duration {
	var total time.Duration
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		comm, err := os.ReadFile("/proc/" + d.Name() + "/comm")
		if err != nil || !strings.HasPrefix(string(comm), "napi/") {
			continue
		}
		name := strings.TrimSpace(strings.TrimPrefix(string(comm), "napi/"))
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
		if name != "eth0" { // the host's end, in its namespace (one host at a time: benchmarks)
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			total += time.Duration(u+s) * time.Second / 100 // USER_HZ
		}
	}
	return total
}

// SetLink takes the host's link down or brings it back up.
func (h *Host) SetLink(up bool) {
	state := "down"
	if up {
		state = "up"
	}
	h.lab.must("ip", "-n", h.NS, "link", "set", "eth0", state)
	if up { // IPv6 addresses and routes go with the link; put them back
		h.lab.run("ip", "-n", h.NS, "-6", "addr", "add", h.V6.String()+"/64", "dev", "eth0", "nodad")
		h.lab.run("ip", "-n", h.NS, "route", "replace", "default", "via", h.lab.Gateway().String())
	}
}

// IgnoreEcho makes the host stop (or resume) answering ping on IPv4 and IPv6.
func (h *Host) IgnoreEcho(ignore bool) {
	v := "0"
	if ignore {
		v = "1"
	}
	h.lab.must("ip", "netns", "exec", h.NS, "sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all="+v)
	h.lab.must("ip", "netns", "exec", h.NS, "sysctl", "-q", "-w", "net.ipv6.icmp.echo_ignore_all="+v)
}

// DropFrom makes this host silently drop (or stop dropping) every packet
// that arrives from src, as a broken path would: its probes to src still
// go out, and the replies vanish. Only this host's namespace changes (its
// local table moves from rule 0 to rule 100 so that a rule can come first).
func (h *Host) DropFrom(src netip.Addr, drop bool) {
	ns := []string{"ip", "-n", h.NS}
	if !h.rulesMoved {
		h.lab.must(append(ns, "rule", "add", "pref", "100", "lookup", "local")...)
		h.lab.must(append(ns, "rule", "del", "pref", "0", "lookup", "local")...)
		h.rulesMoved = true
	}
	op := "add"
	if !drop {
		op = "del"
	}
	h.lab.must(append(ns, "rule", op, "pref", "10", "from", src.String(), "blackhole")...)
}

func (l *Lab) must(args ...string) {
	l.t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		l.t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

func (l *Lab) run(args ...string) { exec.Command(args[0], args[1:]...).Run() }

// sweep deletes namespaces and links a killed run left on this lab's
// subnet (its name has another pid but the same subnet). They would hold the
// lab's addresses. Only one test uses a subnet at a time, so none is live.
func (l *Lab) sweep() {
	stale := func(name string) bool {
		return len(name) > 7 && strings.HasPrefix(name, "ga") && name[5:7] == l.prefix[5:7]
	}
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 0 && stale(f[0]) {
				l.run("ip", "netns", "del", f[0])
			}
		}
	}
	if out, err := exec.Command("ip", "-o", "link", "show").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 1 {
				if name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@"); stale(name) {
					l.run("ip", "link", "del", name)
				}
			}
		}
	}
}

// lockFile takes an exclusive lock on path, waiting for any other process
// that holds it, and returns its release. A process that dies releases it.
func lockFile(t testing.TB, path string) func() {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatalf("netlab lock %s: %v", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("netlab lock %s: %v", path, err)
	}
	return func() { f.Close() }
}

// guardRoutes keep lab traffic on this machine.
var guardRoutes = [][]string{
	{"ip", "route", "replace", "unreachable", "198.18.0.0/15"},
	{"ip", "-6", "route", "replace", "unreachable", "2001:2::/48"},
}

// guard installs the unreachable routes for the lab ranges (once for all
// test processes, by reference count under a file lock) and returns the
// function that releases them.
func guard(t testing.TB) func() {
	t.Helper()
	change := func(delta int) {
		f, err := os.OpenFile("/run/goavail-netlab.lock", os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatalf("netlab lock: %v", err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatalf("netlab lock: %v", err)
		}
		b, _ := os.ReadFile("/run/goavail-netlab.count")
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		n = max(n+delta, 0)
		if delta > 0 || n > 0 {
			for _, r := range guardRoutes { // (re)install while anyone uses the lab
				if out, err := exec.Command(r[0], r[1:]...).CombinedOutput(); err != nil {
					t.Fatalf("%s: %v: %s", strings.Join(r, " "), err, out)
				}
			}
		} else {
			exec.Command("ip", "route", "del", "unreachable", "198.18.0.0/15").Run()
			exec.Command("ip", "-6", "route", "del", "unreachable", "2001:2::/48").Run()
		}
		os.WriteFile("/run/goavail-netlab.count", []byte(strconv.Itoa(n)), 0o600)
	}
	change(+1)
	return func() { change(-1) }
}

// bulkV4Max is how many IPv4 addresses AddBulk takes from 198.19.0.0/16
// (.1 to .254 of each /24).
const bulkV4Max = 256 * 254

// BulkV6Addr is the i-th (from 1) IPv6 address a bulk host answers on.
func BulkV6Addr(i int) netip.Addr {
	b := bulkV6.Addr().As16()
	b[12], b[13], b[14], b[15] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	return netip.AddrFrom16(b)
}

// bulkV6 is where AddBulk's addresses beyond bulkV4Max come from: inside
// 2001:2::/48 and far from every lab's 2001:2:0:<subnet>::/64 (subnet ≤ 254).
var bulkV6 = netip.MustParsePrefix("2001:2:0:8000::/49")

// AddBulk makes one namespace that answers ping on n addresses, for scale
// tests: the first 65,024 are IPv4 from 198.19.0.0/16, the rest IPv6 from
// 2001:2:0:8000::/49 (198.18.0.0/15 has too few addresses left beside the
// labs' subnets for 100,000). The namespace answers for both whole ranges
// (a local route, "AnyIP": adding 65,000 addresses one by one takes
// minutes), and both are routed to it, one process at a time (a file
// lock). BulkDown takes single addresses down.
func (l *Lab) AddBulk(n int) (*Host, []netip.Addr) {
	l.t.Helper()
	h := l.AddHost()
	addrs := make([]netip.Addr, n)
	for i := range n {
		if i < bulkV4Max {
			addrs[i] = netip.AddrFrom4([4]byte{198, 19, byte(i / 254), byte(i%254 + 1)})
		} else {
			addrs[i] = BulkV6Addr(i - bulkV4Max + 1)
		}
	}
	l.must("ip", "-n", h.NS, "route", "add", "local", "198.19.0.0/16", "dev", "lo")
	l.must("ip", "-n", h.NS, "-6", "route", "add", "local", bulkV6.String(), "dev", "lo")
	unlock := lockFile(l.t, "/run/goavail-netlab-bulk.lock") // one route for every process
	l.must("ip", "route", "replace", "198.19.0.0/16", "via", h.V4.String())
	l.must("ip", "-6", "route", "replace", bulkV6.String(), "via", h.V6.String())
	l.t.Cleanup(func() {
		l.run("ip", "route", "del", "198.19.0.0/16")
		l.run("ip", "-6", "route", "del", bulkV6.String())
		unlock()
	})
	return h, addrs
}

// BulkDown makes one of AddBulk's addresses stop answering (a blackhole
// route in the namespace's local table, which wins over the range), or
// answer again.
func (h *Host) BulkDown(a netip.Addr, down bool) {
	op := "add"
	if !down {
		op = "del"
	}
	args := []string{"ip", "-n", h.NS}
	if a.Is6() {
		args = append(args, "-6")
	}
	h.lab.must(append(args, "route", op, "table", "local", "blackhole", netip.PrefixFrom(a, a.BitLen()).String())...)
}
