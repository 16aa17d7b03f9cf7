package monitor

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// socket is one ICMP socket for one address family: an unprivileged ping
// socket (SOCK_DGRAM) where net.ipv4.ping_group_range allows it, otherwise
// a raw socket, which needs root or CAP_NET_RAW.
type socket struct {
	pc         net.PacketConn
	v6         bool
	privileged bool // raw socket: the ICMP id is ours to set and check
}

// recvBuffer is the receive buffer asked for: a burst of replies from
// thousands of targets must not overflow it (the original goavail's default
// 212,992-byte buffer did).
const recvBuffer = 8 << 20

// errNoICMP explains the three ways to let goavail send ICMP.
var errNoICMP = errors.New("cannot open an ICMP socket: run goavail as root, or give the binary CAP_NET_RAW " +
	"(setcap cap_net_raw+ep /path/to/goavail, or AmbientCapabilities=CAP_NET_RAW in systemd), " +
	"or allow unprivileged ping sockets for its group (sysctl -w net.ipv4.ping_group_range=\"0 2147483647\")")

// openSocket opens the ICMP socket for one family, preferring the
// unprivileged kind.
func openSocket(v6 bool) (*socket, error) {
	if s, err := openDgram(v6); err == nil {
		return s, nil
	}
	s, err := openRaw(v6)
	if err != nil {
		return nil, fmt.Errorf("%w (raw socket: %v)", errNoICMP, err)
	}
	return s, nil
}

func openDgram(v6 bool) (*socket, error) {
	family, proto := syscall.AF_INET, syscall.IPPROTO_ICMP
	var sa syscall.Sockaddr = &syscall.SockaddrInet4{}
	if v6 {
		family, proto, sa = syscall.AF_INET6, syscall.IPPROTO_ICMPV6, &syscall.SockaddrInet6{}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, err
	}
	setRecvBuffer(fd)
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "icmp")
	pc, err := net.FilePacketConn(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	return &socket{pc: pc, v6: v6}, nil
}

func openRaw(v6 bool) (*socket, error) {
	network, laddr := "ip4:icmp", "0.0.0.0"
	if v6 {
		network, laddr = "ip6:ipv6-icmp", "::"
	}
	pc, err := net.ListenPacket(network, laddr)
	if err != nil {
		return nil, err
	}
	ipc := pc.(*net.IPConn)
	if rc, err := ipc.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { setRecvBuffer(int(fd)) })
	}
	// Let only echo replies through to this socket; every raw ICMP socket
	// otherwise gets a copy of every ICMP packet the host receives.
	if v6 {
		var f ipv6.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv6.ICMPTypeEchoReply)
		if err := ipv6.NewPacketConn(pc).SetICMPFilter(&f); err != nil {
			pc.Close()
			return nil, fmt.Errorf("set ICMPv6 filter: %w", err)
		}
	} else if rc, err := ipc.SyscallConn(); err == nil {
		const solRaw, icmpFilter = 255, 1 // linux/icmp.h: ICMP_FILTER, a bit set drops that type
		mask := ^uint32(1 << uint(ipv4.ICMPTypeEchoReply))
		rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), solRaw, icmpFilter, int(mask)) })
	}
	return &socket{pc: pc, v6: v6, privileged: true}, nil
}

// setRecvBuffer asks for a large receive buffer, beyond net.core.rmem_max
// where the process may (SO_RCVBUFFORCE needs CAP_NET_ADMIN).
func setRecvBuffer(fd int) {
	if syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, recvBuffer) != nil {
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, recvBuffer)
	}
}

func (s *socket) addr(a netip.Addr) net.Addr {
	if s.privileged {
		return &net.IPAddr{IP: a.AsSlice()}
	}
	return &net.UDPAddr{IP: a.AsSlice()}
}

// source extracts the sender of a received packet.
func source(a net.Addr) netip.Addr {
	var ip net.IP
	switch x := a.(type) {
	case *net.IPAddr:
		ip = x.IP
	case *net.UDPAddr:
		ip = x.IP
	}
	out, _ := netip.AddrFromSlice(ip)
	return out.Unmap()
}
