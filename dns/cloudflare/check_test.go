package cloudflare

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
)

// TestCheckZones_SaysWhatIsWrong: the check at start finds every zone with
// a good token, and calls a refused token (9109, 10000) and an API URL
// without /client/v4 (404 7000 on the lookup) permanent, naming what to
// fix; before, the wrong URL read as "the zone id is no longer valid".
func TestCheckZones_SaysWhatIsWrong(t *testing.T) {
	emu, good := newEmu(t)
	zones := []string{"example.com", "example.net"}
	if err := good.CheckZones(context.Background(), zones); err != nil {
		t.Fatalf("good token: %v", err)
	}
	for _, tc := range []struct {
		name, base, token, want string
	}{
		{"refused token", emu.BaseURL(), "wrong-token", "9109"},
		{"token without permissions", emu.BaseURL(), emu.NoPermToken, "10000"},
		{"base URL without /client/v4", emu.URL, emu.Token, "check the API URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cf, err := New(Options{BaseURL: tc.base, Credentials: Credentials{Token: tc.token}, RequestTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			err = cf.CheckZones(context.Background(), zones)
			var perm *dns.PermanentError
			if !errors.As(err, &perm) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a permanent error naming %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "no longer valid") {
				t.Errorf("still blames the zone id: %v", err)
			}
		})
	}
	cf, err := New(Options{BaseURL: "http://127.0.0.1:1/client/v4/", Credentials: Credentials{Token: "t"}, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var perm *dns.PermanentError
	if err := cf.CheckZones(context.Background(), zones); err == nil || errors.As(err, &perm) {
		t.Errorf("unreachable API: got %v, want a transient error", err)
	}
}
