package rfc2136

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/namedlab"
)

// TestCheckZones_SaysWhatIsWrong: the check at start passes for the zone
// named serves; a zone it does not serve, a name inside the zone that is
// no zone's apex, a wrong secret and an unknown key are PermanentErrors
// naming the key and the server; a server that does not answer is
// transient.
func TestCheckZones_SaysWhatIsWrong(t *testing.T) {
	s := namedlab.Start(t, zone, seed...)
	ctx := context.Background()
	good := newProvider(t, s, s.Secret)
	if err := good.CheckZones(ctx, []string{zone}); err != nil {
		t.Fatalf("the zone named serves: %v", err)
	}
	stranger, err := New(Options{Server: s.Addr, KeyName: "stranger.", Secret: s.Secret, Names: func(string) []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		p     *Provider
		zones []string
		want  []string
	}{
		{"zone not served", good, []string{zone, "example.net"}, []string{"check zone example.net on " + s.Addr, "REFUSED", "TSIG key goavail."}},
		{"not a zone apex", good, []string{"www.example.com"}, []string{"check zone www.example.com on " + s.Addr, "primary"}},
		{"wrong secret", newProvider(t, s, "d3JvbmcgLSB3cm9uZyAtIHdyb25nIC0gd3JvbmcgLSA="), []string{zone}, []string{"TSIG key goavail.", "BADSIG", s.Addr}},
		{"unknown key", stranger, []string{zone}, []string{"TSIG key stranger.", "BADKEY", s.Addr}},
	} {
		err := c.p.CheckZones(ctx, c.zones)
		var perm *dns.PermanentError
		if !errors.As(err, &perm) {
			t.Errorf("%s: err = %v, want a PermanentError", c.name, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: err = %v, want it to say %q", c.name, err, w)
			}
		}
		t.Logf("%s: %v", c.name, err)
	}

	// Nothing listens: no answer, which the passes retry.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	gone, err := New(Options{Server: closed, KeyName: namedlab.KeyName, Secret: s.Secret, Timeout: 2 * time.Second, Names: func(string) []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	err = gone.CheckZones(ctx, []string{zone})
	var perm *dns.PermanentError
	if err == nil || errors.As(err, &perm) {
		t.Fatalf("no server: err = %v, want a transient error", err)
	}
}
