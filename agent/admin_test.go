package agent

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestAdminGuard_ReloadNeedsTheTokenBeyondLoopback: on an http_listen
// other machines reach, POST /-/reload (and --pprof's pages) take the API
// token and are off without one, where anyone could reload before; on
// loopback the reload stays open; /metrics, /status and /healthz never
// ask for a token, so a remote Prometheus scrapes.
func TestAdminGuard_ReloadNeedsTheTokenBeyondLoopback(t *testing.T) {
	for _, tc := range []struct {
		name, listen, token, method, path, auth string
		code                                    int
		want                                    string
		reloads                                 int
	}{
		{"loopback: reload open", "127.0.0.1:9800", "", "POST", "/-/reload", "", 200, "reloaded", 1},
		{"exposed, no token: reload off", "0.0.0.0:9800", "", "POST", "/-/reload", "", 403, "admin endpoints are off", 0},
		{"exposed: reload without the token", ":9800", "s3cret", "POST", "/-/reload", "", 401, "wrong or missing API token", 0},
		{"exposed: reload with a wrong token", "[::]:9800", "s3cret", "POST", "/-/reload", "nope", 401, "wrong or missing API token", 0},
		{"exposed: reload with the token", "192.0.2.1:9800", "s3cret", "POST", "/-/reload", "s3cret", 200, "reloaded", 1},
		{"exposed: pprof off without the token", ":9800", "s3cret", "GET", "/debug/pprof/", "", 401, "wrong or missing API token", 0},
		{"exposed: metrics open", ":9800", "s3cret", "GET", "/metrics", "", 200, "", 0},
		{"exposed: status open", ":9800", "s3cret", "GET", "/status", "", 200, `"node"`, 0},
		{"exposed: healthz open", ":9800", "", "GET", "/healthz", "", 200, "ok", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reloads := 0
			admin := adminGuard(tc.listen, tc.token)
			web, err := newHTTPServer("127.0.0.1:0", &metrics{reg: prometheus.NewRegistry()}, func() StatusDoc { return StatusDoc{} },
				func() error { reloads++; return nil }, admin, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer web.ln.Close()
			h := withPprof(web.srv.Handler, admin)
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", "Bearer "+tc.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.want) || reloads != tc.reloads {
				t.Errorf("%s %s: %d %q, %d reloads; want %d containing %q, %d reloads", tc.method, tc.path, w.Code, w.Body.String(), reloads, tc.code, tc.want, tc.reloads)
			}
		})
	}
}
