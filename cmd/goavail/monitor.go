package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/goavail/goavail/agent"
)

// monitorOptions are the monitor command's flags.
type monitorOptions struct {
	configPath          string
	dryRun              bool
	logLevel, logFormat string
	pprof               bool // serve /debug/pprof/ on http_listen
}

// validateCmd checks a config file and prints the effective configuration.
func validateCmd(path string, stdout io.Writer, getenv func(string) string) error {
	c, _, err := agent.LoadConfig(path, getenv)
	if err != nil {
		return &exitError{exitConfig, err}
	}
	lines, err := agent.ProviderLines(c, getenv)
	if err != nil {
		return &exitError{exitConfig, fmt.Errorf("config %s: %w", path, err)}
	}
	fmt.Fprintf(stdout, "# %s is valid. The effective configuration (defaults filled in, secrets redacted):\n", path)
	for _, l := range lines {
		fmt.Fprintln(stdout, "# "+l)
	}
	warnings := c.Members.Warnings()
	if w := agent.ExposedWarning(c.HTTPListen); w != "" {
		warnings = append(warnings, w)
	}
	for _, w := range warnings {
		fmt.Fprintf(stdout, "# warning: %s\n", agent.OneLine(w))
	}
	for _, n := range c.Notices {
		fmt.Fprintln(stdout, "# "+n)
	}
	fmt.Fprint(stdout, c.Effective())
	return nil
}

// monitorCmd runs an agent until SIGINT or SIGTERM; SIGHUP reloads it.
func monitorCmd(ctx context.Context, o monitorOptions, logw io.Writer, getenv func(string) string) error {
	log, err := agent.NewLogger(o.logLevel, o.logFormat, logw)
	if err != nil {
		return &exitError{exitConfig, err}
	}
	tuneGC(getenv)
	cfg, keys, err := agent.LoadConfig(o.configPath, getenv)
	if err != nil {
		return &exitError{exitConfig, err}
	}
	ver, rev := buildVersion()
	a, err := agent.New(cfg, keys, agent.Options{ConfigPath: o.configPath, DryRun: o.dryRun, Pprof: o.pprof,
		Build: agent.Build{Version: ver, Revision: rev}, Getenv: getenv, Log: log})
	var cerr *agent.ConfigError
	switch {
	case errors.As(err, &cerr):
		return &exitError{exitConfig, err}
	case err != nil:
		return &exitError{exitRuntime, err}
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = a.Reload(ctx) // a rejected reload is logged; the running config stays
			}
		}
	}()
	if err := a.Run(ctx); err != nil {
		return &exitError{exitRuntime, err}
	}
	return nil
}
