package agent

import (
	"net/http"
	pprofhttp "net/http/pprof"
)

// withPprof serves net/http/pprof's /debug/pprof/ beside h. It is off by
// default (--pprof): a profile costs CPU and shows the agent's internals to
// anyone who reaches http_listen, so admin guards it (adminGuard).
func withPprof(h http.Handler, admin func(http.Handler) http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/debug/pprof/", admin(http.HandlerFunc(pprofhttp.Index)))
	mux.Handle("/debug/pprof/cmdline", admin(http.HandlerFunc(pprofhttp.Cmdline)))
	mux.Handle("/debug/pprof/profile", admin(http.HandlerFunc(pprofhttp.Profile)))
	mux.Handle("/debug/pprof/symbol", admin(http.HandlerFunc(pprofhttp.Symbol)))
	mux.Handle("/debug/pprof/trace", admin(http.HandlerFunc(pprofhttp.Trace)))
	mux.Handle("/", h)
	return mux
}
