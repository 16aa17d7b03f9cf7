package testweb

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// CA is a throw-away certificate authority.
type CA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	PEM    []byte         // the CA certificate, PEM
	Pool   *x509.CertPool // holding only the CA
	serial int64
}

// NewCA makes a CA valid from a day ago for ten years.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "goavail test CA"},
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &CA{cert: cert, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Pool: x509.NewCertPool(), serial: 1}
	ca.Pool.AddCert(cert)
	return ca
}

// WritePEM writes the CA certificate into dir and returns the path.
func (ca *CA) WritePEM(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(p, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Cert issues a server certificate for name, valid from notBefore to notAfter.
func (ca *CA) Cert(t testing.TB, name string, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca.serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(ca.serial), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// Certs are the four certificates the check tests need, all for Name
// except WrongName.
type Certs struct {
	Valid, Expired, WrongName, Expiring3d tls.Certificate
}

// StandardCerts issues a valid certificate for name (a year), an expired
// one, one for another name, and one that expires in 3 days.
func (ca *CA) StandardCerts(t testing.TB, name string) Certs {
	now := time.Now()
	day := 24 * time.Hour
	return Certs{
		Valid:      ca.Cert(t, name, now.Add(-day), now.Add(365*day)),
		Expired:    ca.Cert(t, name, now.Add(-30*day), now.Add(-day)),
		WrongName:  ca.Cert(t, "other.invalid", now.Add(-day), now.Add(365*day)),
		Expiring3d: ca.Cert(t, name, now.Add(-day), now.Add(3*day)),
	}
}

// Mode is what a Handler answers.
type Mode int

// The answers a Handler can give.
const (
	OK        Mode = iota // 200 "status: ok"
	Status503             // 503 "unavailable"
	BadBody               // 200 with an error page
	Stall                 // nothing until the client gives up
)

// Handler answers every request as its current mode says.
type Handler struct {
	mu   sync.Mutex
	mode Mode
	hits int
}

// Set changes the answer from the next request on.
func (h *Handler) Set(m Mode) { h.mu.Lock(); h.mode = m; h.mu.Unlock() }

// Hits counts the requests served.
func (h *Handler) Hits() int { h.mu.Lock(); defer h.mu.Unlock(); return h.hits }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	m := h.mode
	h.hits++
	h.mu.Unlock()
	switch m {
	case Status503:
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	case BadBody:
		w.Write([]byte("<html>Internal error: database unreachable</html>"))
	case Stall:
		<-r.Context().Done()
	default:
		w.Write([]byte("status: ok"))
	}
}

// Serve serves h on ln (with TLS when cert is not nil) until the test ends.
func Serve(t testing.TB, ln net.Listener, cert *tls.Certificate, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	if cert != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12})
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// CertSwitch is the certificate a TLS server presents, changeable while it
// runs (a renewal, or a broken deployment).
type CertSwitch struct {
	mu   sync.Mutex
	cert *tls.Certificate
}

// Set presents cert from the next handshake on.
func (c *CertSwitch) Set(cert tls.Certificate) { c.mu.Lock(); c.cert = &cert; c.mu.Unlock() }

// ServeTLS serves h with TLS on ln, presenting the switch's certificate,
// until the test ends.
func ServeTLS(t testing.TB, ln net.Listener, certs *CertSwitch, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	ln = tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		certs.mu.Lock()
		defer certs.mu.Unlock()
		return certs.cert, nil
	}})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// AcceptAndClose accepts connections on ln and closes them at once: a TCP
// service that is up. Closing ln makes the port refuse.
func AcceptAndClose(ln net.Listener) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}
