package namedlab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// Exchange is one request a Proxy passed to named and what came back, as
// the proxy saw them: nothing in it is the client's own account.
type Exchange struct {
	Label    string    // the listener's label (one per agent run)
	Net      string    // "tcp" or "udp"
	At       time.Time // arrival from the client
	Sent     time.Time // forwarded to named (later than At when held)
	Answered time.Time // named's answer arrived (zero: none)
	Request  *mdns.Msg // as sent (TSIG and all); nil when it did not parse
	Answer   *mdns.Msg // nil when named did not answer
	// SerialBefore and SerialAfter bracket a query (not an UPDATE): the
	// zone's SOA serial read from named just before the query was
	// forwarded and just after its answer, so the answer was served at a
	// version in between.
	SerialBefore, SerialAfter uint32
}

// Hold holds UPDATEs in transit: the next Count UPDATEs (from the
// listener Label, or from any when Label is "") wait Delay (or until Until
// is closed) before the proxy forwards them, whether or not their client
// is still there.
type Hold struct {
	Label string
	Delay time.Duration
	Count int
	Until <-chan struct{}
	// Taken, when set, is sent the time the hold took an UPDATE (without
	// blocking: give it room).
	Taken chan<- time.Time
}

// Proxy is a recording DNS proxy in front of a Server: each listener (one
// per agent run) forwards UDP and TCP requests to named unchanged and
// records every request and answer with the listener's label, so that
// named's journal can be attributed to the run that sent each UPDATE.
type Proxy struct {
	upstream string
	zone     string

	mu        sync.Mutex
	exchanges []Exchange
	holds     []*Hold
	closers   []io.Closer
	wg        sync.WaitGroup
}

// NewProxy returns a proxy to s; Close (registered with t.Cleanup by the
// caller, or called directly) stops its listeners.
func (s *Server) NewProxy() *Proxy {
	return &Proxy{upstream: s.Addr, zone: s.Zone}
}

// Listen opens a UDP and a TCP listener on one port of ip, whose requests
// are recorded under label, and returns its host:port.
func (p *Proxy) Listen(ip, label string) (string, error) {
	for range 50 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return "", fmt.Errorf("proxy listener for %s on %s: %w", label, ip, err)
		}
		u, err := net.ListenPacket("udp", l.Addr().String())
		if err != nil {
			l.Close()
			continue
		}
		p.mu.Lock()
		p.closers = append(p.closers, l, u)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.serveTCP(l, label)
		go p.serveUDP(u, label)
		return l.Addr().String(), nil
	}
	return "", fmt.Errorf("proxy listener for %s on %s: no port free for both TCP and UDP", label, ip)
}

// Hold adds a hold on UPDATEs.
func (p *Proxy) Hold(h Hold) {
	p.mu.Lock()
	p.holds = append(p.holds, &h)
	p.mu.Unlock()
}

// Exchanges returns what the proxy recorded so far, in the order the
// answers came (an unanswered request when it gave up on it).
func (p *Proxy) Exchanges() []Exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.exchanges)
}

// Close stops every listener and waits for their loops.
func (p *Proxy) Close() {
	p.mu.Lock()
	cs := p.closers
	p.closers = nil
	p.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
	p.wg.Wait()
}

func (p *Proxy) serveTCP(l net.Listener, label string) {
	defer p.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go p.tcpConn(c, label)
	}
}

func (p *Proxy) tcpConn(c net.Conn, label string) {
	defer c.Close()
	var up net.Conn
	defer func() {
		if up != nil {
			up.Close()
		}
	}()
	for {
		req, err := readFrame(c)
		if err != nil {
			return
		}
		ex := p.begin(label, "tcp", req)
		if up == nil {
			if up, err = net.DialTimeout("tcp", p.upstream, 5*time.Second); err != nil {
				up = nil
				p.record(ex)
				return
			}
		}
		_ = up.SetDeadline(time.Now().Add(10 * time.Second))
		ex.Sent = time.Now()
		var ans []byte
		if err = writeFrame(up, req); err == nil {
			ans, err = readFrame(up)
		}
		if err != nil {
			p.record(ex)
			return
		}
		p.finish(&ex, ans)
		if writeFrame(c, ans) != nil {
			return
		}
	}
}

func (p *Proxy) serveUDP(u net.PacketConn, label string) {
	defer p.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := u.ReadFrom(buf)
		if err != nil {
			return
		}
		req := slices.Clone(buf[:n])
		go func() {
			ex := p.begin(label, "udp", req)
			up, err := net.Dial("udp", p.upstream)
			if err != nil {
				p.record(ex)
				return
			}
			defer up.Close()
			_ = up.SetDeadline(time.Now().Add(5 * time.Second))
			ex.Sent = time.Now()
			ans := make([]byte, 65535)
			if _, err = up.Write(req); err == nil {
				var m int
				if m, err = up.Read(ans); err == nil {
					ans = ans[:m]
				}
			}
			if err != nil {
				p.record(ex)
				return
			}
			p.finish(&ex, ans)
			_, _ = u.WriteTo(ans, from)
		}()
	}
}

// begin records a request's arrival, holds an UPDATE a hold takes, and
// reads the serial before a query.
func (p *Proxy) begin(label, network string, req []byte) Exchange {
	ex := Exchange{Label: label, Net: network, At: time.Now()}
	m := new(mdns.Msg)
	if m.Unpack(req) == nil {
		ex.Request = m
	}
	if ex.Request != nil && ex.Request.Opcode == mdns.OpcodeUpdate {
		p.hold(label)
	} else {
		ex.SerialBefore = p.serial()
	}
	return ex
}

func (p *Proxy) hold(label string) {
	p.mu.Lock()
	var h *Hold
	for i, x := range p.holds {
		if x.Label == "" || x.Label == label {
			h = x
			if h.Count--; h.Count <= 0 {
				p.holds = slices.Delete(p.holds, i, i+1)
			}
			break
		}
	}
	p.mu.Unlock()
	if h == nil {
		return
	}
	if h.Taken != nil {
		select {
		case h.Taken <- time.Now():
		default:
		}
	}
	t := time.NewTimer(h.Delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-h.Until:
	}
}

func (p *Proxy) finish(ex *Exchange, ans []byte) {
	ex.Answered = time.Now()
	m := new(mdns.Msg)
	if m.Unpack(ans) == nil {
		ex.Answer = m
	}
	if ex.Request == nil || ex.Request.Opcode != mdns.OpcodeUpdate {
		ex.SerialAfter = p.serial()
	}
	p.record(*ex)
}

func (p *Proxy) record(ex Exchange) {
	p.mu.Lock()
	p.exchanges = append(p.exchanges, ex)
	p.mu.Unlock()
}

// serial is the zone's SOA serial at named (0 when it does not answer).
func (p *Proxy) serial() uint32 {
	q := new(mdns.Msg)
	q.SetQuestion(mdns.Fqdn(p.zone), mdns.TypeSOA)
	c := &mdns.Client{Net: "tcp", Timeout: 2 * time.Second}
	r, _, err := c.Exchange(q, p.upstream)
	if err != nil {
		return 0
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*mdns.SOA); ok {
			return soa.Serial
		}
	}
	return 0
}

func readFrame(c net.Conn) ([]byte, error) {
	var n [2]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(n[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		return nil, err
	}
	return b, nil
}

func writeFrame(c net.Conn, b []byte) error {
	if len(b) > 65535 {
		return errors.New("message over 65535 bytes")
	}
	out := make([]byte, 2+len(b))
	binary.BigEndian.PutUint16(out, uint16(len(b)))
	copy(out[2:], b)
	_, err := c.Write(out)
	return err
}
