package agent

import (
	"encoding/json"
	"testing"
)

func TestAnnex_RoundTripAndStrict(t *testing.T) {
	a := annex{Removed: json.RawMessage(`[{"addr":"198.51.100.7"}]`), Drains: json.RawMessage(`{"198.51.100.8":{"by":"ops"}}`)}
	b, err := a.encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeAnnex(b)
	if err != nil || string(got.Removed) != string(a.Removed) || string(got.Drains) != string(a.Drains) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if b, _ := (annex{}).encode(); b != nil {
		t.Errorf("empty annex encodes to %q, want nil", b)
	}
	for _, bad := range []string{`{"removed":[],"other":1}`, `[1]`, `{"removed":[]} {}`, `{`} {
		if _, err := decodeAnnex([]byte(bad)); err == nil {
			t.Errorf("decodeAnnex(%s) accepted", bad)
		}
	}
}

func FuzzDecodeAnnex(f *testing.F) {
	f.Add([]byte(`{"removed":[{"addr":"198.51.100.7"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAnnex(b)
		if err != nil {
			return
		}
		if _, err := a.encode(); err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", b, err)
		}
	})
}
