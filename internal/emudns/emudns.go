// Package emudns is the DNS side of the test emulators (internal/cfemu,
// internal/r53emu): one handler answering on UDP and TCP on the same port,
// as a zone's nameserver would, so that goavail's propagation check reads
// a change back from it.
package emudns

import (
	"net"
	"strconv"
	"sync"

	mdns "github.com/miekg/dns"
)

// Server answers DNS queries with one handler on UDP and TCP.
type Server struct {
	// Addr is host:port, the same port for UDP and TCP.
	Addr     string
	udp, tcp *mdns.Server
	closing  sync.Once
}

// Serve starts h on host, UDP and TCP on one port the system chooses (tried
// again while the TCP side of it is taken).
func Serve(host string, h mdns.Handler) (*Server, error) {
	var pc net.PacketConn
	var ln net.Listener
	var err error
	for try := 0; try < 50; try++ {
		if pc, err = net.ListenPacket("udp", net.JoinHostPort(host, "0")); err != nil {
			return nil, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		if ln, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port))); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: net.JoinHostPort(host, strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port))}
	s.udp = &mdns.Server{PacketConn: pc, Handler: h}
	s.tcp = &mdns.Server{Listener: ln, Handler: h}
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	return s, nil
}

// Close stops both; a second Close does nothing.
func (s *Server) Close() {
	s.closing.Do(func() {
		s.udp.Shutdown()
		s.tcp.Shutdown()
	})
}
