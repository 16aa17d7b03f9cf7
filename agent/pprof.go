package agent

import (
	"net/http"
	pprofhttp "net/http/pprof"
)

// withPprof serves net/http/pprof's /debug/pprof/ beside h. It is off by
// default (--pprof): a profile costs CPU and shows the agent's internals to
// anyone who reaches http_listen.
func withPprof(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprofhttp.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprofhttp.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprofhttp.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprofhttp.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprofhttp.Trace)
	mux.Handle("/", h)
	return mux
}
