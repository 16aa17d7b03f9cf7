package crypto

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wantLen int
		wantErr string
	}{
		{in: "0123456789abcdef", wantLen: 16},
		{in: "0123456789abcdef01234567", wantLen: 24},
		{in: "0123456789abcdef0123456789abcdef", wantLen: 32}, // raw text, even if it looks like hex
		{in: "hex:000102030405060708090a0b0c0d0e0f", wantLen: 16},
		{in: "base64:" + strings.Repeat("A", 43) + "=", wantLen: 32},
		{in: "short", wantErr: "key is 5 bytes; it must be 16, 24 or 32"},
		{in: "hex:zz", wantErr: "hex key does not decode"},
		{in: "hex:0001", wantErr: "key is 2 bytes"},
		{in: "base64:!!", wantErr: "base64 key does not decode"},
		{in: "", wantErr: "key is 0 bytes"},
	} {
		k, err := ParseKey(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseKey(%q) = %v, want error containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || len(k) != tc.wantLen {
			t.Errorf("ParseKey(%q) = %d bytes, %v; want %d bytes", tc.in, len(k), err, tc.wantLen)
		}
	}
}

func TestResolveKey_References(t *testing.T) {
	secret := "0123456789abcdef"
	src := Source{
		LookupEnv: func(n string) (string, bool) {
			v, ok := map[string]string{"GOAVAIL_KEY": secret + "\n", "BAD": "nope-" + secret}[n]
			return v, ok
		},
		ReadFile: func(p string) ([]byte, error) {
			if p == "/etc/goavail/key" {
				return []byte("  hex:" + strings.Repeat("ab", 24) + "\n"), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		},
	}
	for _, tc := range []struct {
		spec    string
		wantLen int
		wantErr string
	}{
		{spec: "env:GOAVAIL_KEY", wantLen: 16},
		{spec: "file:/etc/goavail/key", wantLen: 24},
		{spec: "env:MISSING", wantErr: "environment variable MISSING is not set"},
		{spec: "env:BAD", wantErr: "environment variable BAD: key is 21 bytes"},
		{spec: "file:/nope", wantErr: "read key file: open /nope: file does not exist"},
	} {
		k, err := ResolveKey(tc.spec, src)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ResolveKey(%q) = %v, want error containing %q", tc.spec, err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("ResolveKey(%q) error leaks the key: %v", tc.spec, err)
			}
			continue
		}
		if err != nil || len(k) != tc.wantLen {
			t.Errorf("ResolveKey(%q) = %d bytes, %v; want %d", tc.spec, len(k), err, tc.wantLen)
		}
	}
	if _, err := ResolveKeys([]string{"short", "env:GOAVAIL_KEY", "also-short"}, src); err == nil ||
		!strings.Contains(err.Error(), "key 1:") || !strings.Contains(err.Error(), "key 3:") {
		t.Errorf("ResolveKeys did not report every bad key by position: %v", err)
	}
}

func TestGenerateKey_ParsesAndDiffers(t *testing.T) {
	a, b := GenerateKey(), GenerateKey()
	if a == b {
		t.Fatal("two generated keys are equal")
	}
	if k, err := ParseKey(a); err != nil || len(k) != 32 {
		t.Fatalf("generated key %q: %d bytes, %v", a, len(k), err)
	}
}

func key(c byte) []byte { return bytes.Repeat([]byte{c}, 32) }

func envelope() Envelope {
	return Envelope{Sender: "agent-1", Incarnation: 7, Seq: 42, Time: time.Unix(1700000000, 123), Fingerprint: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, Payload: []byte("view")}
}

func TestSeal_RoundTripAndRotation(t *testing.T) {
	old, _ := NewSealer([][]byte{key('o')})
	both, _ := NewSealer([][]byte{key('n'), key('o')}) // new key sends, old one still opens
	msg, err := old.Seal(envelope())
	if err != nil {
		t.Fatal(err)
	}
	got, err := both.Open(msg)
	if err != nil {
		t.Fatalf("rotation: a keyring holding the old key second cannot open: %v", err)
	}
	want := envelope()
	if got.Sender != want.Sender || got.Incarnation != want.Incarnation || got.Seq != want.Seq ||
		!got.Time.Equal(want.Time) || got.Fingerprint != want.Fingerprint || string(got.Payload) != string(want.Payload) {
		t.Errorf("round trip: got %+v, want %+v", got, want)
	}
	fresh, _ := both.Seal(envelope())
	if _, err := old.Open(fresh); !errors.Is(err, ErrAuth) {
		t.Errorf("a message sealed with the new key opened with the old keyring alone: %v", err)
	}
	again, _ := both.Seal(envelope())
	if bytes.Equal(fresh, again) {
		t.Error("two seals of one envelope are identical: the nonce is not fresh")
	}
}

func TestOpen_RejectsBadInput(t *testing.T) {
	s, _ := NewSealer([][]byte{key('k')})
	other, _ := NewSealer([][]byte{key('x')})
	good, _ := s.Seal(envelope())
	wrongKey, _ := other.Seal(envelope())
	for _, tc := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"truncated", good[:20], ErrTruncated},
		{"cut tag", good[:len(good)-1], ErrAuth},
		{"version", append([]byte{9}, good[1:]...), ErrVersion},
		{"wrong key", wrongKey, ErrAuth},
		{"oversized", make([]byte, MaxMessage+1), ErrTooLarge},
	} {
		if _, err := s.Open(tc.msg); !errors.Is(err, tc.want) {
			t.Errorf("%s: Open = %v, want %v", tc.name, err, tc.want)
		}
	}
	for i := range good { // every single-bit change is caught
		bad := bytes.Clone(good)
		bad[i] ^= 0x10
		if _, err := s.Open(bad); err == nil {
			t.Errorf("flipping a bit of byte %d went unnoticed", i)
		}
	}
}

func TestReplayGuard(t *testing.T) {
	now := time.Unix(1700000000, 0)
	at := func(inc, seq uint64, skew time.Duration) Envelope {
		return Envelope{Sender: "a", Incarnation: inc, Seq: seq, Time: now.Add(skew)}
	}
	g := NewReplayGuard(30 * time.Second)
	for i, tc := range []struct {
		e    Envelope
		want error
	}{
		{at(5, 1, 0), nil},
		{at(5, 1, 0), ErrReplay},              // the same message again
		{at(5, 3, 0), nil},                    // gaps are fine (latest wins on the sender)
		{at(5, 2, 0), ErrReordered},           // overtaken in flight: dropped, not an attack
		{at(5, 2, -5*time.Second), ErrReplay}, // older, and sealed long before: a replay
		{at(4, 99, 0), ErrReplay},             // an earlier incarnation
		{at(6, 1, 0), nil},                    // the sender restarted
		{at(6, 2, -31*time.Second), ErrClockSkew},
		{at(6, 2, 31*time.Second), ErrClockSkew},
		{at(6, 2, 29*time.Second), nil},
		{Envelope{Sender: "b", Incarnation: 1, Seq: 1, Time: now}, nil}, // senders are separate
	} {
		if err := g.Check(tc.e, now); !errors.Is(err, tc.want) {
			t.Errorf("step %d: Check(%+v) = %v, want %v", i, tc.e, err, tc.want)
		}
	}
}

// TestResolveKey_Credential: cred:NAME reads systemd's credentials
// directory, and says what to do outside systemd.
func TestResolveKey_Credential(t *testing.T) {
	files := map[string][]byte{"/run/credentials/goavail.service/crypto_key": []byte("0123456789abcdef\n")}
	src := Source{
		ReadFile: func(p string) ([]byte, error) {
			if b, ok := files[p]; ok {
				return b, nil
			}
			return nil, os.ErrNotExist
		},
		CredentialsDir: "/run/credentials/goavail.service",
	}
	k, err := ResolveKey("cred:crypto_key", src)
	if err != nil || string(k) != "0123456789abcdef" {
		t.Fatalf("cred:crypto_key = %q, %v", k, err)
	}
	files["/run/credentials/goavail.service/goavail_other"] = []byte("fedcba9876543210")
	if k, err := ResolveKey("cred:other", src); err != nil || string(k) != "fedcba9876543210" {
		t.Errorf("cred:other from the packaged unit's goavail_other = %q, %v", k, err)
	}
	for spec, want := range map[string]string{
		"cred:missing": "read credential missing",
		"cred:../etc":  "a credential name is one file name",
		"cred:":        "a credential name is one file name",
	} {
		if _, err := ResolveKey(spec, src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", spec, err, want)
		}
	}
	src.CredentialsDir = ""
	if _, err := ResolveKey("cred:crypto_key", src); err == nil || !strings.Contains(err.Error(), "$CREDENTIALS_DIRECTORY is not set") {
		t.Errorf("outside systemd: %v", err)
	}
}

// TestReplayGuard_ClockStepRestart: an agent restarted after its clock
// stepped back has a lower incarnation. It is refused only while a message
// of its old incarnation could still pass the timestamp check, then
// accepted; the old incarnation stays refused after that, so a real replay
// is still refused.
func TestReplayGuard_ClockStepRestart(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	g := NewReplayGuard(30 * time.Second)
	old := Envelope{Sender: "a", Incarnation: 2_000, Seq: 7, Time: t0}
	if err := g.Check(old, t0); err != nil {
		t.Fatal(err)
	}
	// Restarted 10 s later with its clock 10 minutes back: incarnation
	// lower. Within MaxSkew of the old incarnation's last message it could
	// be a replay: refused.
	stepped := Envelope{Sender: "a", Incarnation: 1_000, Seq: 1, Time: t0.Add(10 * time.Second)}
	if err := g.Check(stepped, t0.Add(10*time.Second)); !errors.Is(err, ErrReplay) {
		t.Fatalf("lower incarnation right after the old one: %v, want ErrReplay", err)
	}
	// Past MaxSkew: accepted, and its sequence goes on.
	for i, at := range []time.Duration{31 * time.Second, 32 * time.Second} {
		e := Envelope{Sender: "a", Incarnation: 1_000, Seq: uint64(2 + i), Time: t0.Add(at)}
		if err := g.Check(e, t0.Add(at)); err != nil {
			t.Fatalf("stepped-back restart refused at +%s: %v", at, err)
		}
	}
	// A replay of the old incarnation, even freshly timestamped (a message
	// captured and held back), is refused: that incarnation is retired.
	held := Envelope{Sender: "a", Incarnation: 2_000, Seq: 8, Time: t0.Add(40 * time.Second)}
	if err := g.Check(held, t0.Add(40*time.Second)); !errors.Is(err, ErrReplay) {
		t.Fatalf("retired incarnation accepted: %v", err)
	}
	// And a replay of the new incarnation's own messages is refused too.
	if err := g.Check(Envelope{Sender: "a", Incarnation: 1_000, Seq: 2, Time: t0.Add(20 * time.Second)}, t0.Add(41*time.Second)); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay within the new incarnation: %v", err)
	}
}
