package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// httpServer serves /metrics, /status, /healthz and POST /-/reload.
type httpServer struct {
	srv *http.Server
	ln  net.Listener
	log *slog.Logger
}

// newHTTPServer listens on addr at once, so a port in use is a startup
// error, not a log line later. routes add more endpoints. admin guards
// POST /-/reload (adminGuard).
func newHTTPServer(addr string, m *metrics, status func() StatusDoc, reload func() error, admin func(http.Handler) http.Handler, log *slog.Logger, routes ...func(*http.ServeMux)) (*httpServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, listenError(addr, err)
	}
	mux := http.NewServeMux()
	for _, r := range routes {
		r(mux)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(status())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("POST /-/reload", admin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := reload(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "reloaded")
	})))
	return &httpServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln, log: log}, nil
}

// Addr is where the server listens.
func (h *httpServer) Addr() string { return h.ln.Addr().String() }

// Run serves until ctx ends, then shuts down within a second.
func (h *httpServer) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- h.srv.Serve(h.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := h.srv.Shutdown(sctx); err != nil {
		h.srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

// listenError says what to do when http_listen cannot be opened.
func listenError(addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("http_listen %s: the port is taken (another goavail, or another program: ss -ltnp 'sport = :%s' names it); "+
			"stop it, or set http_listen to a free port, or to \"\" to serve no HTTP: %w", addr, portOf(addr), err)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("http_listen %s: no interface of this machine has that address; use 127.0.0.1 or one of its own addresses: %w", addr, err)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("http_listen %s: ports below 1024 need root or CAP_NET_BIND_SERVICE; use a higher port: %w", addr, err)
	}
	return fmt.Errorf("http_listen %s: %w", addr, err)
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// ExposedWarning words the risk of HTTP endpoints beyond loopback:
// /-/reload is unauthenticated, and /status shows every target. Empty on
// loopback.
func ExposedWarning(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "localhost" {
		return ""
	}
	if a, err := netip.ParseAddr(host); err == nil && a.IsLoopback() {
		return ""
	}
	return fmt.Sprintf("http_listen = %q is reachable from other machines: anyone who can connect can read the status page, /status, /history and /metrics; POST /-/reload (and --pprof's /debug/pprof/) need the API token there, and are off without one; keep it on 127.0.0.1 or firewall it", addr)
}

// warnExposed logs ExposedWarning at start.
func warnExposed(addr, token string, log *slog.Logger) {
	if w := ExposedWarning(addr); w != "" {
		admin := "off (no API token)"
		if token != "" {
			admin = "on, behind the API token"
		}
		log.Warn(w, "drain_api", admin, "reload_api", admin)
	}
}
