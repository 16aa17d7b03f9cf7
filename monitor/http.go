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
	client *http.Client
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
		TLSClientConfig:        &tls.Config{RootCAs: o.RootCAs, InsecureSkipVerify: !o.TLSVerify, MinVersion: tls.VersionTLS12},
		MaxResponseHeaderBytes: maxBody,
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
	return &httpProber{c: c, url: c.Kind + "://" + hostport + o.Path, client: client}
}

func (p *httpProber) Probe(ctx context.Context, addr netip.Addr) Outcome {
	start := time.Now()
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
	fail := func(reason string) Outcome { return Outcome{Took: time.Since(start), Reason: reason} }

	req, err := http.NewRequestWithContext(ctx, o.Method, p.url, nil)
	if err != nil {
		return fail("request: " + err.Error())
	}
	for k, v := range o.Headers {
		req.Header.Set(k, v)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "goavail-health-check")
	}
	res, err := p.client.Do(req)
	if err != nil {
		return fail(p.errReason(ctx, err, phaseNames[phase.Load()]))
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return fail(netReason(ctx, err, "body", p.c.Timeout))
	}
	out := Outcome{OK: true, Took: time.Since(start)}
	if res.TLS != nil && o.MinDaysLeft > 0 {
		notAfter := earliestExpiry(res.TLS)
		days := notAfter.Sub(time.Now()).Hours() / 24
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

// earliestExpiry is the first NotAfter in the verified chain (or, without
// verification, among the certificates the server sent).
func earliestExpiry(cs *tls.ConnectionState) time.Time {
	certs := cs.PeerCertificates
	if len(cs.VerifiedChains) > 0 {
		certs = cs.VerifiedChains[0]
	}
	var first time.Time
	for _, c := range certs {
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
