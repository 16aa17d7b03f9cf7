package testweb

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// NewCAUntil makes a CA valid from a day ago until notAfter: a private
// root near its end.
func NewCAUntil(t testing.TB, notAfter time.Time) *CA {
	t.Helper()
	return newCA(t, nil, notAfter)
}

// Intermediate issues a CA under ca, valid from a day ago until notAfter.
// A server serves its certificate (Chain) after the leaf.
func (ca *CA) Intermediate(t testing.TB, notAfter time.Time) *CA {
	t.Helper()
	return newCA(t, ca, notAfter)
}

// Chain is the CA certificate in DER, to append to a leaf's chain.
func (ca *CA) Chain() []byte { return ca.cert.Raw }

// newCA makes a CA signed by parent, or self-signed without one.
func newCA(t testing.TB, parent *CA, notAfter time.Time) *CA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "goavail test CA " + notAfter.Format(time.RFC3339Nano)},
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	signer, signKey := tmpl, key
	if parent != nil {
		parent.serial++
		tmpl.SerialNumber = big.NewInt(parent.serial)
		signer, signKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{cert: cert, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Pool: x509.NewCertPool(), serial: 1}
	ca.Pool.AddCert(cert)
	return ca
}
