package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestCfemu_ServesTheSeededZoneAndStops: the command starts on the seed
// file, writes the environment goavail needs, serves the seeded records to
// that token (and refuses another), and on stop prints the zone as JSON.
func TestCfemu_ServesTheSeededZoneAndStops(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.json")
	os.WriteFile(seed, []byte(`{"zones": {"example.com": [
		{"name": "www.example.com", "type": "A", "content": "192.0.2.10", "ttl": 60},
		{"name": "www.example.com", "type": "A", "content": "192.0.2.11", "ttl": 60}]}}`), 0o600)
	envFile := filepath.Join(dir, "env")
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-seed", seed, "-env-file", envFile}, &out)
	}()
	var env map[string]string
	for deadline := time.Now().Add(20 * time.Second); env == nil; time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("cfemu stopped: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no env file")
		}
		if b, err := os.ReadFile(envFile); err == nil && strings.Count(string(b), "\n") == 2 {
			env = map[string]string{}
			for _, l := range strings.Fields(string(b)) {
				k, v, _ := strings.Cut(l, "=")
				env[k] = v
			}
		}
	}
	get := func(token, path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, env["CLOUDFLARE_BASE_URL"]+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		return res.StatusCode, b.String()
	}
	code, body := get(env["CLOUDFLARE_API_TOKEN"], "zones?name=example.com")
	var zones struct {
		Result []struct{ ID string } `json:"result"`
	}
	json.Unmarshal([]byte(body), &zones)
	if code != 200 || len(zones.Result) != 1 {
		t.Fatalf("zone lookup: %d %s", code, body)
	}
	if code, body := get(env["CLOUDFLARE_API_TOKEN"], "zones/"+zones.Result[0].ID+"/dns_records?type=A"); code != 200 || !strings.Contains(body, "192.0.2.10") || !strings.Contains(body, "192.0.2.11") {
		t.Errorf("records: %d %s", code, body)
	}
	if code, _ := get("wrong", "zones?name=example.com"); code != 403 {
		t.Errorf("a wrong token: %d, want 403", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stop: %v", err)
	}
	if s := out.String(); !strings.Contains(s, `"content": "192.0.2.11"`) || !strings.Contains(s, "CLOUDFLARE_API_TOKEN=") {
		t.Errorf("output:\n%s", s)
	}
}
