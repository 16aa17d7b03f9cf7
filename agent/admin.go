package agent

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// adminGuard protects the admin endpoints (POST /-/reload, and
// /debug/pprof/ with --pprof) of an http_listen reachable from other
// machines: they then need the API token (Authorization: Bearer), and are
// off without one. On loopback they stay open, as before: only this
// machine reaches them. /metrics, /status and /healthz are never guarded,
// so a remote Prometheus scrapes without a token.
func adminGuard(addr, token string) func(http.Handler) http.Handler {
	if ExposedWarning(addr) == "" {
		return func(h http.Handler) http.Handler { return h }
	}
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if token == "" {
				http.Error(w, "admin endpoints are off: http_listen is reachable from other machines and this agent has no API token "+
					"(set GOAVAIL_API_TOKEN, GOAVAIL_API_TOKEN_FILE or the api_token credential); reload with SIGHUP (systemctl reload goavail)", http.StatusForbidden)
				return
			}
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				w.Header().Set("WWW-Authenticate", "Bearer")
				http.Error(w, "wrong or missing API token", http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}
