package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/internal/cfemu"
)

// TestE2E_APIFaults runs the real binary against the emulator while it
// injects one fault each, then takes a host down: after each fault ends the
// agent removes the host's record, restores it when the host answers
// again, and leaves the unmanaged record alone. During a 429's Retry-After
// no request at all is sent. The subtests run in parallel, each on its own
// lab subnet; the 30 s outage bounds the run.
func TestE2E_APIFaults(t *testing.T) {
	for i, tc := range []struct {
		name   string
		inject func(t *testing.T, emu *cfemu.Server)
		check  func(t *testing.T, reqs []cfemu.Request)
	}{
		{name: "burst of 5xx", inject: func(t *testing.T, emu *cfemu.Server) {
			emu.Inject(cfemu.Fault{Status: http.StatusBadGateway, Count: 4})
		}},
		{name: "429 with Retry-After", inject: func(t *testing.T, emu *cfemu.Server) {
			emu.Inject(cfemu.Fault{Status: http.StatusTooManyRequests, RetryAfter: 3 * time.Second, Count: 1})
		}, check: func(t *testing.T, reqs []cfemu.Request) {
			i := slices.IndexFunc(reqs, func(r cfemu.Request) bool { return r.Status == http.StatusTooManyRequests })
			if i < 0 || i+1 >= len(reqs) {
				t.Fatalf("no request after the 429: %+v", reqs)
			}
			if gap := reqs[i+1].At.Sub(reqs[i].At); gap < 3*time.Second-50*time.Millisecond {
				t.Errorf("a request went out %s after a 429 with Retry-After: 3", gap)
			}
		}},
		{name: "answers slower than the client timeout", inject: func(t *testing.T, emu *cfemu.Server) {
			emu.Inject(cfemu.Fault{Delay: 3 * time.Second, Count: 2})
		}},
		{name: "failed batches", inject: func(t *testing.T, emu *cfemu.Server) {
			emu.Inject(cfemu.Fault{Method: http.MethodPost, PathSuffix: "/batch", Status: http.StatusInternalServerError, Count: 2})
		}},
		{name: "API away for 30 s", inject: func(t *testing.T, emu *cfemu.Server) {
			emu.Stop()
			time.AfterFunc(30*time.Second, func() {
				if err := emu.Restart(); err != nil {
					t.Errorf("restart the emulator: %v", err)
				}
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newE2ELab(t, 61+i, labOpts{seedTTL: 60})
			a, b, emu := l.hosts[0], l.hosts[1], l.emu
			txt := emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "TXT", Content: "keep me"})
			cfg := strings.Replace(labConfig(freeAddr(t), a, b), "[Cloudflare]", "[Cloudflare]\nrequest_timeout = \"1s\"", 1)
			ag := l.start(cfg, "--no-dry-run")
			eventually(t, "both hosts up", bothUp(ag, a, b), ag.logs)
			tc.inject(t, emu)
			a.IgnoreEcho(true)
			patient(t, "a's record removed after the fault", func() bool { return !has(emu, "www.example.com", "A", a.V4.String()) }, ag.logs)
			a.IgnoreEcho(false)
			patient(t, "a's record restored", func() bool { return has(emu, "www.example.com", "A", a.V4.String()) }, ag.logs)
			if !has(emu, "www.example.com", "A", b.V4.String()) || !has(emu, "www.example.com", "TXT", txt.Content) {
				t.Errorf("lost a record: %v", emu.Records("example.com"))
			}
			if tc.check != nil {
				tc.check(t, emu.Requests())
			}
			ag.stop(t)
		})
	}
}

// patient is eventually with more room, for scenarios that include a long
// fault (the 30 s outage) on a loaded machine.
func patient(t *testing.T, what string, cond func() bool, logs interface{ String() string }) {
	t.Helper()
	for deadline := time.Now().Add(100 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s\nlogs:\n%s", what, logs)
		}
	}
}
