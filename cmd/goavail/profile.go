package main

import (
	"fmt"
	"net/http"
	pprofhttp "net/http/pprof"
	"os"
	"runtime/pprof"
)

// startCPUProfile writes a CPU profile of the whole agent to path until the
// returned stop is called (at exit), for `go tool pprof`. An empty path
// profiles nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile %s: %w", path, err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

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
