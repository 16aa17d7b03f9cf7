package monitor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// maxBody is how much of a response body the regexps see.
const maxBody = 64 << 10

// httpProber sends one request over a fresh connection per probe: a
// reused connection could hide a server that no longer accepts new ones.
// The request goes to the probed address whatever the host name resolves
// to; the host name is the Host header and the TLS server name.
type httpProber struct {
	c      *Check
	url    string
	client *http.Client // when following redirects
	// Without redirects a probe is one request on one connection, written
	// out once here and parsed with http.ReadResponse: no transport, pool
	// or per-connection goroutines.
	request []byte
	req     *http.Request // what ReadResponse needs to know (the method)
	tls     *tls.Config
}

// targetKey carries the probed address to the transport's dialer.
type targetKey struct{}

// Probe phases, for the evidence of a timeout.
const (
	phaseConnect int32 = iota
	phaseTLS
	phaseFirstByte
	phaseBody
)

var phaseNames = [...]string{"connect", "tls", "first byte", "body"}

func newHTTPProber(c *Check) *httpProber {
	o := c.HTTP
	host := strings.ToLower(o.Host)
	dialer := &net.Dialer{}
	tr := &http.Transport{
		Proxy:             nil, // a proxy would check itself, not the address
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			h, port, err := net.SplitHostPort(address)
			if a, ok := ctx.Value(targetKey{}).(netip.Addr); ok && err == nil && strings.EqualFold(h, host) {
				address = net.JoinHostPort(a.String(), port)
			}
			return dialer.DialContext(ctx, network, address)
		},
		TLSClientConfig:        checkTLSConfig(o),
		MaxResponseHeaderBytes: maxHeader,
	}
	client := &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !o.FollowRedirects {
			return http.ErrUseLastResponse
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}}
	hostport := host
	if !(c.Kind == KindHTTP && c.Port == 80) && !(c.Kind == KindHTTPS && c.Port == 443) {
		hostport = net.JoinHostPort(host, strconv.Itoa(c.Port))
	}
	p := &httpProber{c: c, url: c.Kind + "://" + hostport + o.Path, client: client, req: &http.Request{Method: o.Method}, tls: checkTLSConfig(o)}
	p.tls.ServerName = host
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", o.Method, o.Path, hostport)
	hdr := http.Header{"User-Agent": {"goavail-health-check"}}
	for k, v := range o.Headers {
		hdr.Set(k, v)
	}
	hdr.Set("Connection", "close")
	hdr.Write(&b)
	b.WriteString("\r\n")
	p.request = []byte(b.String())
	return p
}

func (p *httpProber) Probe(ctx context.Context, addr netip.Addr) Outcome {
	start := time.Now()
	o := p.c.HTTP
	fail := func(reason string) Outcome { return Outcome{Took: time.Since(start), Reason: reason} }
	get := p.direct
	if o.FollowRedirects {
		get = p.viaClient
	}
	res, body, why := get(ctx, addr)
	if why != "" {
		return fail(why)
	}
	out := Outcome{OK: true, Took: time.Since(start)}
	if res.TLS != nil && o.MinDaysLeft > 0 {
		notAfter := earliestExpiry(res.TLS)
		days := time.Until(notAfter).Hours() / 24
		switch {
		case days < o.MinDaysLeft:
			return fail(fmt.Sprintf("tls: certificate expires in %.1f days (%s), under tls_min_days_left %g", days, notAfter.UTC().Format(time.DateOnly), o.MinDaysLeft))
		case days < 2*o.MinDaysLeft:
			out.Warning = fmt.Sprintf("tls: certificate expires in %.1f days (%s); under tls_min_days_left %g it counts as down", days, notAfter.UTC().Format(time.DateOnly), o.MinDaysLeft)
		}
	}
	if !statusValid(res.StatusCode, o.StatusCodes) {
		return fail(fmt.Sprintf("status %d (%s), want %s", res.StatusCode, http.StatusText(res.StatusCode), codesText(o.StatusCodes)))
	}
	for _, re := range o.BodyMustMatch {
		if !re.Match(body) {
			return fail(fmt.Sprintf("status %d, but the body does not match %q", res.StatusCode, re.String()))
		}
	}
	for _, re := range o.BodyMustNotMatch {
		if re.Match(body) {
			return fail(fmt.Sprintf("status %d, but the body matches %q", res.StatusCode, re.String()))
		}
	}
	return out
}

// viaClient makes the request with an http.Client, which follows redirects.
func (p *httpProber) viaClient(ctx context.Context, addr netip.Addr) (*http.Response, []byte, string) {
	o := p.c.HTTP
	var phase atomic.Int32
	afterConnect := phaseFirstByte
	if p.c.Kind == KindHTTPS {
		afterConnect = phaseTLS
	}
	trace := &httptrace.ClientTrace{
		ConnectDone: func(_, _ string, err error) {
			if err == nil {
				phase.Store(afterConnect)
			}
		},
		TLSHandshakeStart:    func() { phase.Store(phaseTLS) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { phase.Store(phaseFirstByte) },
		GotFirstResponseByte: func() { phase.Store(phaseBody) },
	}
	ctx = httptrace.WithClientTrace(context.WithValue(ctx, targetKey{}, addr), trace)
	req, err := http.NewRequestWithContext(ctx, o.Method, p.url, nil)
	if err != nil {
		return nil, nil, "request: " + err.Error()
	}
	req.Header.Set("User-Agent", "goavail-health-check")
	for k, v := range o.Headers {
		req.Header.Set(k, v)
	}
	res, err := p.client.Do(req)
	if err != nil {
		return nil, nil, p.errReason(ctx, err, phaseNames[phase.Load()])
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, nil, netReason(ctx, err, "body", p.c.Timeout)
	}
	return res, body, ""
}

// direct makes the request on a connection of its own to addr.
func (p *httpProber) direct(ctx context.Context, addr netip.Addr) (*http.Response, []byte, string) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(addr, uint16(p.c.Port)).String())
	if err != nil {
		return nil, nil, netReason(ctx, err, "connect", p.c.Timeout)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// A shutdown cancels ctx before its deadline: unblock reads and writes.
	raw := conn // conn becomes the TLS connection below; the deadline is the socket's
	defer context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })()
	var tc *tls.Conn
	if p.c.Kind == KindHTTPS {
		tc = tls.Client(conn, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, nil, p.errReason(ctx, err, "tls")
		}
		conn = tc
	}
	if _, err := conn.Write(p.request); err != nil {
		return nil, nil, p.errReason(ctx, err, "first byte")
	}
	res, why, err := readAnswer(conn, p.req)
	if why != "" {
		return nil, nil, why
	}
	if err != nil {
		return nil, nil, p.errReason(ctx, err, "first byte")
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, nil, netReason(ctx, err, "body", p.c.Timeout)
	}
	if tc != nil {
		st := tc.ConnectionState()
		res.TLS = &st
	}
	return res, body, ""
}

// errReason words a failed request: certificate problems by name, then
// refusals and timeouts with the phase they happened in.
func (p *httpProber) errReason(ctx context.Context, err error, phase string) string {
	var inval x509.CertificateInvalidError
	var host x509.HostnameError
	var unknown x509.UnknownAuthorityError
	var rec tls.RecordHeaderError
	switch {
	case errors.As(err, &inval) && inval.Reason == x509.Expired:
		return fmt.Sprintf("tls: certificate expired or not yet valid (valid %s to %s)", inval.Cert.NotBefore.UTC().Format(time.DateOnly), inval.Cert.NotAfter.UTC().Format(time.DateOnly))
	case errors.As(err, &inval):
		return "tls: certificate invalid: " + inval.Error()
	case errors.As(err, &host):
		names := host.Certificate.DNSNames
		if len(names) == 0 {
			names = []string{host.Certificate.Subject.CommonName}
		}
		return fmt.Sprintf("tls: certificate is for %s, not %s", strings.Join(names, ", "), host.Host)
	case errors.As(err, &unknown):
		return "tls: certificate signed by an unknown authority (set tls_ca_file, or tls_verify = false)"
	case errors.As(err, &rec) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "tls: the server did not answer with TLS (is it plain http?)"
	case headerTooLarge(err):
		return reasonHeaderTooLarge
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) { // *url.Error: drop the "Get \"https://...\":" prefix
		if inner := ue.Unwrap(); inner != nil {
			err = inner
		}
	}
	if phase == phaseNames[phaseTLS] && !strings.Contains(err.Error(), "timeout") && ctx.Err() == nil {
		return "tls: " + strings.TrimPrefix(err.Error(), "tls: ")
	}
	return netReason(ctx, err, phase, p.c.Timeout)
}

// earliestExpiry is the first NotAfter among the certificates the server
// sent, as blackbox_exporter reads it. The root that verified them is the
// agent's own (tls_ca_file or the system's): its end is for its owner to
// renew, and counting it would fail every target at once.
func earliestExpiry(cs *tls.ConnectionState) time.Time {
	var first time.Time
	for _, c := range cs.PeerCertificates {
		if first.IsZero() || c.NotAfter.Before(first) {
			first = c.NotAfter
		}
	}
	return first
}

func statusValid(code int, ranges [][2]int) bool {
	for _, r := range ranges {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}

func codesText(ranges [][2]int) string {
	parts := make([]string, len(ranges))
	for i, r := range ranges {
		if r[0] == r[1] {
			parts[i] = strconv.Itoa(r[0])
		} else {
			parts[i] = fmt.Sprintf("%dxx", r[0]/100)
		}
	}
	return strings.Join(parts, " or ")
}

// checkTLSConfig is the client side of every HTTPS probe. Key exchange is
// X25519 or P-256 only: the hybrid post-quantum exchange Go offers by
// default (X25519MLKEM768) protects secrets for decades, which a health
// check has none of, and costs both ends more CPU per handshake.
func checkTLSConfig(o HTTPOptions) *tls.Config {
	return &tls.Config{RootCAs: o.RootCAs, InsecureSkipVerify: !o.TLSVerify, MinVersion: tls.VersionTLS12,
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}}
}
