package monitor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// tcpProber is up when a TCP handshake completes; a refusal, an
// unreachable network or a timeout is down.
type tcpProber struct {
	port    uint16
	timeout time.Duration
}

func (p tcpProber) Probe(ctx context.Context, addr netip.Addr) Outcome {
	start := time.Now()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(addr, p.port).String())
	if err != nil {
		return Outcome{Took: time.Since(start), Reason: netReason(ctx, err, "connect", p.timeout)}
	}
	conn.Close()
	return Outcome{OK: true, Took: time.Since(start)}
}

// netReason words a network error for the evidence: the phase it happened
// in and the cause, short ("connect: connection refused", "timeout after
// 1s in tls").
func netReason(ctx context.Context, err error, phase string, timeout time.Duration) string {
	var errno syscall.Errno
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() != nil:
		return fmt.Sprintf("timeout after %s in %s", timeout, phase)
	case errors.As(err, &errno):
		return phase + ": " + errno.Error()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("timeout after %s in %s", timeout, phase)
	}
	return phase + ": " + err.Error()
}
