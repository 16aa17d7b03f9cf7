package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

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
		return &exitError{exitConfig, missingConfig(path, err)}
	}
	lines, err := agent.ProviderLines(c, getenv)
	if err != nil {
		return &exitError{exitConfig, fmt.Errorf("config %s: %w", path, err)}
	}
	fmt.Fprintf(stdout, "# %s is valid. The effective configuration (defaults filled in, secrets redacted):\n", path)
	for _, l := range lines {
		fmt.Fprintln(stdout, "# "+l)
	}
	c.StateFile = agent.StateFile(c, getenv) // as the agent resolves it
	warnings := c.Warnings()
	if c.StateFile == "" {
		warnings = append(warnings, agent.NoStateFileWarning)
	}
	if w := agent.ExposedWarning(c.HTTPListen); w != "" {
		warnings = append(warnings, w)
	}
	for _, w := range warnings {
		fmt.Fprintf(stdout, "# warning: %s\n", agent.OneLine(w))
	}
	for _, n := range c.Notices {
		fmt.Fprintln(stdout, "# "+n)
	}
	fmt.Fprintln(stdout, "# validate makes no API call unless --check-api, so it cannot see the zone: the first pass (dry-run too) logs \"records differ from the config in ttl/proxied\" when managed records have other ttl or dns_proxied values than these")
	if env := getenv("CLOUDFLARE_BASE_URL"); env != "" {
		fmt.Fprintf(stdout, "# CLOUDFLARE_BASE_URL=%s overrides api_base_url\n", env)
		c.Cloudflare.APIBaseURL = env
	}
	fmt.Fprint(stdout, c.Effective())
	return nil
}

// checkAPICmd is validate --check-api: the zones and their ttl/proxied
// differences, as Cloudflare has them, after the effective configuration.
func checkAPICmd(ctx context.Context, path string, stdout io.Writer, getenv func(string) string) error {
	c, _, err := agent.LoadConfig(path, getenv)
	if err != nil {
		return &exitError{exitConfig, err}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	lines, err := agent.CheckAPI(ctx, c, getenv)
	for _, l := range lines {
		fmt.Fprintln(stdout, "# api: "+l)
	}
	var cerr *agent.ConfigError
	switch {
	case errors.As(err, &cerr):
		return &exitError{exitConfig, err}
	case err != nil:
		return &exitError{exitRuntime, fmt.Errorf("--check-api: the API did not answer: %w", err)}
	}
	return nil
}

// missingConfig says where goavail looked when the default config file
// is missing.
func missingConfig(path string, err error) error {
	if path == localConfig && errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no config file: neither ./%s nor %s exists; give one with --config-file or as the argument: %w", localConfig, packagedConfig, err)
	}
	return err
}

// absPath is path made absolute, for the line that says which file was
// read; path itself when that fails.
func absPath(path string) string {
	if a, err := filepath.Abs(path); err == nil {
		return a
	}
	return path
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
		return &exitError{exitConfig, missingConfig(o.configPath, err)}
	}
	log.Info("config file read", "path", absPath(o.configPath))
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
