package main

import (
	be "encoding/binary"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/goavail/goavail/internal/netlab"
)

// wireProbe is one echo request seen on the lab bridge.
type wireProbe struct {
	dst  netip.Addr
	slot time.Time // the scheduled send time goavail puts in the payload
	at   time.Time // when the kernel saw it leave
}

// capture records the echo requests that leave through a bridge, with
// kernel timestamps, until stop is called. Only ETH_P_ALL sockets see
// outgoing packets.
type capture struct {
	fd     int
	mu     sync.Mutex
	probes []wireProbe
	done   chan struct{}
	quit   chan struct{}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func startCapture(t *testing.T, ifname string) *capture {
	t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM, int(htons(syscall.ETH_P_ALL)))
	if err != nil {
		t.Fatalf("packet socket: %v", err)
	}
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, 16<<20)
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	tv := syscall.NsecToTimeval(int64(200 * time.Millisecond))
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(syscall.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		syscall.Close(fd)
		t.Fatalf("bind packet socket: %v", err)
	}
	c := &capture{fd: fd, done: make(chan struct{}), quit: make(chan struct{})}
	go c.run()
	t.Cleanup(c.stop)
	return c
}

func (c *capture) run() {
	defer close(c.done)
	buf := make([]byte, 2048)
	oob := make([]byte, 128)
	for {
		select {
		case <-c.quit:
			return
		default:
		}
		n, oobn, _, _, err := syscall.Recvmsg(c.fd, buf, oob, 0)
		if err != nil {
			continue // the receive timeout: look at quit again
		}
		b := buf[:n]
		if len(b) < 20 || b[0]>>4 != 4 || b[9] != 1 { // IPv4, ICMP
			continue
		}
		ihl := int(b[0]&0x0f) * 4
		icmp := b[ihl:]
		if len(icmp) < 24 || icmp[0] != 8 { // echo request with goavail's payload
			continue
		}
		p := wireProbe{dst: netip.AddrFrom4([4]byte(b[16:20])), slot: time.Unix(0, int64(be.BigEndian.Uint64(icmp[16:24]))), at: time.Now()}
		if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
					ts := (*syscall.Timespec)(unsafe.Pointer(&m.Data[0]))
					p.at = time.Unix(ts.Unix())
				}
			}
		}
		c.mu.Lock()
		c.probes = append(c.probes, p)
		c.mu.Unlock()
	}
}

func (c *capture) stop() {
	select {
	case <-c.quit:
		return
	default:
	}
	close(c.quit)
	<-c.done
	syscall.Close(c.fd)
}

// between returns the probes seen leaving in [from, to).
func (c *capture) between(from, to time.Time) []wireProbe {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []wireProbe
	for _, p := range c.probes {
		if !p.at.Before(from) && p.at.Before(to) {
			out = append(out, p)
		}
	}
	return out
}

// maxIn is the most probes that left within any window of length w.
func maxIn(ps []wireProbe, w time.Duration) int {
	best, j := 0, 0
	for i := range ps {
		for ps[i].at.Sub(ps[j].at) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// TestE2E_PauseKeepsPhases stops the real agent (SIGSTOP) for three
// intervals while it watches 1,000 answering targets with
// failure_threshold = 1, then lets it go on (SIGCONT). Invariants: no
// target is declared down (replies that came during the pause are read
// before anything counts as lost); no burst follows (no 50 ms after the
// resume carries more than a fifth of the targets, where the old
// scheduler sent all 1,000 at once); one interval later the distinct send
// slots seen on the wire are within 10 % of the number of targets (each
// kept its phase); and the agent logs exactly one pause, with its length,
// and counts it in goavail_agent_pauses_total.
//
// GOAVAIL_PAUSE_TARGETS sets another number of targets (10000, say).
func TestE2E_PauseKeepsPhases(t *testing.T) {
	const interval = time.Second
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("GOAVAIL_PAUSE_TARGETS")); err == nil && v > 0 {
		n = v
	}
	lab := netlab.New(t, 92)
	_, addrs := lab.AddBulk(n)
	bin := buildBinary(t)
	httpAddr := freeAddr(t)
	ag := runScaleAgent(t, bin, scaleConfig(httpAddr, addrs, interval, 800*time.Millisecond, 1, 1, ""), httpAddr)
	ag.waitUp(t, n, 60*time.Second+time.Duration(n)*time.Millisecond)

	capt := startCapture(t, lab.Bridge)
	time.Sleep(2 * interval)
	stopped := time.Now()
	if err := ag.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * interval)
	resumed := time.Now()
	if err := ag.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2*interval + 500*time.Millisecond)
	capt.stop()

	before := capt.between(stopped.Add(-2*interval), stopped)
	after := capt.between(resumed, resumed.Add(2*interval))
	if len(before) < n || len(after) < n {
		t.Fatalf("too few probes on the wire: %d in the 2 s before the stop, %d in the 2 s after (%d in all, first %+v; stopped %s)", len(before), len(after), len(capt.probes), capt.probes[:min(1, len(capt.probes))], stopped)
	}
	if b := maxIn(after, 50*time.Millisecond); b > n/5 {
		t.Errorf("burst after the pause: %d probes within 50 ms (the steady state before it: at most %d)", b, maxIn(before, 50*time.Millisecond))
	}
	// A slot is a target's phase in the interval; a target sent twice in
	// the window (late once, by up to the slack) still has one.
	slots := map[time.Duration]bool{}
	for _, p := range capt.between(resumed.Add(interval), resumed.Add(2*interval)) {
		slots[time.Duration(p.slot.UnixNano())%interval] = true
	}
	t.Logf("before the stop: at most %d probes in 50 ms; after the resume: at most %d; distinct slots one interval later: %d; pause lines: %q",
		maxIn(before, 50*time.Millisecond), maxIn(after, 50*time.Millisecond), len(slots), ag.logs.matching("goavail was paused"))
	if d := len(slots); d < n*9/10 || d > n*11/10 {
		t.Errorf("one interval after the pause: %d distinct send slots for %d targets", d, n)
	}
	if _, downs := ag.logs.counts(); len(downs) > 0 {
		t.Errorf("%d false downs after the pause, e.g. %s", len(downs), downs[0])
	}
	if lines := ag.logs.matching("goavail was paused"); len(lines) != 1 {
		t.Errorf("want exactly one pause line, got %d: %q", len(lines), lines)
	}
	if v := ag.metrics(t)["goavail_agent_pauses_total"]; v != 1 {
		t.Errorf("goavail_agent_pauses_total = %v, want 1", v)
	}
	ag.stop(t)
}
