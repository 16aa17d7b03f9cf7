package monitor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

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
	targets    int  // how many targets it probes (guarded by Engine.mu)

	batch batchIO // pc, batched: writes, and the reader's wait
	// drain is a second descriptor of the same socket for reads that never
	// wait: Go holds a descriptor's read lock while a reader waits on it,
	// and the scheduler must be able to drain while the reader waits.
	drainPC net.PacketConn
	drain   batchIO

	readMu  sync.Mutex // held while replies are read, matched and delivered
	rmsgs   []ipv4.Message
	replies []reply
	peek    []ipv4.Message

	wmsgs  []ipv4.Message
	wbufs  [][]byte
	wbatch []probe // the probes behind wmsgs (only the scheduler writes)
}

// batchIO is what ipv4.PacketConn and ipv6.PacketConn share: sendmmsg and
// recvmmsg.
type batchIO interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// batchSize is how many packets one sendmmsg or recvmmsg moves.
const batchSize = 64

// payloadLen is the echo payload: the engine's token, then the probe's
// scheduled send time (Unix nanoseconds) for anyone watching the wire.
const payloadLen = 16

// reply is one echo reply as read off a socket.
type reply struct {
	from    netip.Addr
	id, seq uint16
	token   [8]byte
	at      time.Time // when the kernel received it
}

// failedSend is a probe the kernel refused to send.
type failedSend struct {
	p   probe
	err error
}

// queueFull reports whether a send failed only because this host's own
// send queue or socket buffer was full (ENOBUFS, EAGAIN, ENOMEM): that says
// nothing about the target, so the probe waits for the queue instead of
// counting as lost.
func queueFull(err error) bool {
	return errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ENOMEM)
}

// recvBuffer is the receive buffer asked for: a burst of replies from
// thousands of targets must not overflow it (the original goavail's default
// 212,992-byte buffer did).
const recvBuffer = 8 << 20

// sendBuffer is the send buffer asked for. Requests waiting in the
// interface's queue count against it, and with the default (212,992 bytes,
// a few hundred requests) a raw socket refuses a tick's batch at 100,000
// targets with ENOBUFS.
const sendBuffer = 4 << 20

// errNoICMP explains the three ways to let goavail send ICMP.
var errNoICMP = errors.New("cannot open an ICMP socket: run goavail as root, or give the binary CAP_NET_RAW " +
	"(setcap cap_net_raw+ep /path/to/goavail, or AmbientCapabilities=CAP_NET_RAW in systemd), " +
	"or allow unprivileged ping sockets for its group (sysctl -w net.ipv4.ping_group_range=\"0 2147483647\")")

// openSocket opens the ICMP socket for one family, preferring the
// unprivileged kind.
func openSocket(v6 bool) (*socket, error) {
	s, err := openDgram(v6)
	if err != nil {
		if s, err = openRaw(v6); err != nil {
			return nil, fmt.Errorf("%w (raw socket: %v)", errNoICMP, err)
		}
	}
	if err := s.setup(); err != nil {
		s.pc.Close()
		return nil, err
	}
	return s, nil
}

// setup turns on kernel receive timestamps (replies are read in batches,
// up to a tick after they came, and the RTT must not include that), opens
// the draining descriptor and allocates the batches.
func (s *socket) setup() error {
	rc, err := s.pc.(syscall.Conn).SyscallConn()
	if err != nil {
		return fmt.Errorf("icmp socket: %w", err)
	}
	var dup int
	var serr error
	err = rc.Control(func(fd uintptr) {
		if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1); serr != nil {
			return
		}
		dup, serr = syscall.Dup(int(fd))
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("icmp socket: timestamps: %w", err)
	}
	syscall.CloseOnExec(dup)
	f := os.NewFile(uintptr(dup), "icmp-drain")
	s.drainPC, err = net.FilePacketConn(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("icmp socket: %w", err)
	}
	if s.v6 {
		s.batch, s.drain = ipv6.NewPacketConn(s.pc), ipv6.NewPacketConn(s.drainPC)
	} else {
		s.batch, s.drain = ipv4.NewPacketConn(s.pc), ipv4.NewPacketConn(s.drainPC)
	}
	s.rmsgs = make([]ipv4.Message, batchSize)
	for i := range s.rmsgs {
		s.rmsgs[i].Buffers = [][]byte{make([]byte, 1500)}
		s.rmsgs[i].OOB = make([]byte, 128)
	}
	s.peek = []ipv4.Message{{Buffers: [][]byte{make([]byte, 1)}}}
	s.wmsgs = make([]ipv4.Message, batchSize)
	s.wbufs = make([][]byte, batchSize)
	for i := range s.wbufs {
		s.wbufs[i] = make([]byte, 8+payloadLen)
		s.wmsgs[i].Buffers = [][]byte{s.wbufs[i]}
	}
	return nil
}

// close closes both descriptors.
func (s *socket) close() {
	s.pc.Close()
	s.drainPC.Close()
}

// waitReadable blocks until a packet is queued, without taking it.
func (s *socket) waitReadable() error {
	_, err := s.batch.ReadBatch(s.peek, syscall.MSG_PEEK)
	return err
}

// readBatch takes up to batchSize queued packets without waiting and
// returns the echo replies among them, and whether it took a full batch
// (more may be queued). The caller holds readMu; the slice is reused by the
// next call.
func (s *socket) readBatch() ([]reply, bool, error) {
	s.replies = s.replies[:0]
	n, err := s.drain.ReadBatch(s.rmsgs, syscall.MSG_DONTWAIT)
	if errors.Is(err, syscall.EAGAIN) {
		return nil, false, nil
	}
	for i := range n {
		m := &s.rmsgs[i]
		if rp, ok := s.parse(m.Buffers[0][:m.N], m.OOB[:m.NN], m.Addr); ok {
			s.replies = append(s.replies, rp)
		}
	}
	return s.replies, n == len(s.rmsgs), err
}

// parse reads an echo reply: after the IPv4 header on a raw IPv4 socket,
// at once otherwise.
func (s *socket) parse(b, oob []byte, from net.Addr) (reply, bool) {
	echoReply := byte(ipv4.ICMPTypeEchoReply)
	if s.v6 {
		echoReply = byte(ipv6.ICMPTypeEchoReply)
	} else if s.privileged {
		if len(b) < 20 || len(b) < int(b[0]&0x0f)*4 {
			return reply{}, false
		}
		b = b[int(b[0]&0x0f)*4:]
	}
	if len(b) < 8+8 || b[0] != echoReply || b[1] != 0 {
		return reply{}, false
	}
	rp := reply{from: source(from), id: binary.BigEndian.Uint16(b[4:]), seq: binary.BigEndian.Uint16(b[6:]), at: stamp(oob)}
	copy(rp.token[:], b[8:16])
	return rp, true
}

// stamp finds SCM_TIMESTAMPNS in a control message, or returns now.
func stamp(oob []byte) time.Time {
	for len(oob) >= syscall.SizeofCmsghdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Len < syscall.SizeofCmsghdr || int(h.Len) > len(oob) {
			break
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && int(h.Len) >= syscall.CmsgLen(int(unsafe.Sizeof(syscall.Timespec{}))) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&oob[syscall.CmsgLen(0)]))
			return time.Unix(ts.Unix())
		}
		oob = oob[min(syscall.CmsgSpace(int(h.Len)-syscall.CmsgLen(0)), len(oob)):]
	}
	return time.Now()
}

// marshal writes an echo request into b (8+payloadLen bytes). The kernel
// fills in the ICMPv6 checksum, and the id on ping sockets.
func (s *socket) marshal(b []byte, id, seq uint16, token [8]byte, slot time.Time) {
	b[0] = byte(ipv4.ICMPTypeEcho)
	if s.v6 {
		b[0] = byte(ipv6.ICMPTypeEchoRequest)
	}
	b[1], b[2], b[3] = 0, 0, 0
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:16], token[:])
	binary.BigEndian.PutUint64(b[16:], uint64(slot.UnixNano()))
	if !s.v6 {
		binary.BigEndian.PutUint16(b[2:], checksum(b))
	}
}

// checksum is the Internet checksum (RFC 1071).
func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// writeBatch sends the echo requests of the probes on this socket and
// returns those the kernel refused, and, once this host's send queue is
// full (queueFull), the rest unsent, to try again at the next wake.
func (s *socket) writeBatch(ps []probe, id uint16, token [8]byte, now time.Time) (failed []failedSend, unsent []probe) {
	for len(ps) > 0 {
		batch := s.wbatch[:0]
		k := 0
		for len(ps) > 0 && k < batchSize {
			p := ps[0]
			ps = ps[1:]
			if p.t.sock != s {
				continue
			}
			s.marshal(s.wbufs[k], id, p.seq, token, p.slot)
			s.wmsgs[k].Addr = p.t.dst
			batch = append(batch, p)
			k++
		}
		for sent := 0; sent < k; {
			n, err := s.batch.WriteBatch(s.wmsgs[sent:k], 0)
			if err != nil && n <= 0 {
				if queueFull(err) { // the queue is full: keep the rest for the next wake
					unsent = append(unsent, batch[sent:]...)
					for _, p := range ps {
						if p.t.sock == s {
							unsent = append(unsent, p)
						}
					}
					s.wbatch = batch[:0]
					return failed, unsent
				}
				failed = append(failed, failedSend{batch[sent], err}) // the first of the rest failed: note it, go on
				n = 1
			}
			sent += n
		}
		s.wbatch = batch[:0]
	}
	return failed, unsent
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
	setBuffers(fd)
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
		rc.Control(func(fd uintptr) { setBuffers(int(fd)) })
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

// setBuffers asks for large receive and send buffers, beyond
// net.core.rmem_max and wmem_max where the process may (SO_RCVBUFFORCE and
// SO_SNDBUFFORCE need CAP_NET_ADMIN).
func setBuffers(fd int) {
	if syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, recvBuffer) != nil {
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, recvBuffer)
	}
	if syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, sendBuffer) != nil {
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, sendBuffer)
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
