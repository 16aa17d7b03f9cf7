package netlab

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// Listen opens a listening socket inside the host's namespace, for a
// server the test runs in its own process: a socket stays in the namespace
// it was made in. The work runs on a locked OS thread that is thrown away
// afterwards, so no other goroutine ever runs in the namespace.
func (h *Host) Listen(network, address string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		f, err := os.Open("/var/run/netns/" + h.NS)
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Unshare(unix.CLONE_FS); err != nil { // setns needs a thread of its own fs context
			ch <- result{nil, fmt.Errorf("unshare: %w", err)}
			return
		}
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns %s: %w", h.NS, err)}
			return
		}
		ln, err := net.Listen(network, address)
		ch <- result{ln, err}
	}()
	r := <-ch
	return r.ln, r.err
}

// BlackholePort makes the host silently drop (or stop dropping) every TCP
// packet to port, as a firewall that drops would: connections to it time
// out instead of being refused.
func (h *Host) BlackholePort(port int, on bool) {
	for _, fam := range []string{"-4", "-6"} {
		ip := []string{"ip", "-n", h.NS, fam, "rule"}
		if out, _ := runOut(append(ip, "show", "pref", "0")...); strings.Contains(out, "lookup local") {
			h.lab.must(append(ip, "add", "pref", "100", "lookup", "local")...)
			h.lab.must(append(ip, "del", "pref", "0", "lookup", "local")...)
			h.rulesMoved = true
		}
		op := "add"
		if !on {
			op = "del"
		}
		h.lab.must(append(ip, op, "pref", "20", "ipproto", "tcp", "dport", fmt.Sprint(port), "blackhole")...)
	}
}

func runOut(args ...string) (string, error) {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	return string(out), err
}
