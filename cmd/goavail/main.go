// Command goavail watches IP addresses with ICMP and keeps their Cloudflare
// DNS records in step with their health. See README.md.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/goavail/goavail/crypto"
)

// version and commit are set at build time (make build):
// -ldflags "-X main.version=v1.2.3 -X main.commit=<sha>".
var (
	version = "dev"
	commit  = "unknown"
)

// Exit codes, documented in README.md and in the help text.
const (
	exitOK      = 0 // clean stop, or a valid config
	exitRuntime = 1 // a failure while running (e.g. no ICMP socket)
	exitConfig  = 2 // bad flags, an invalid config file or missing credentials
)

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

// exitError carries an exit code through urfave/cli.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	if err := app.Run(args); err != nil {
		fmt.Fprintln(stderr, "goavail:", err)
		if ee, ok := err.(*exitError); ok {
			return ee.code
		}
		return exitConfig // flag and usage errors
	}
	return exitOK
}

func newApp(stdout, stderr io.Writer) *cli.App {
	configFlag := &cli.StringFlag{Name: "config-file", Aliases: []string{"f"}, Value: "goavail.toml", Usage: "path to the TOML configuration", EnvVars: []string{"GOAVAIL_CONFIG"}}
	return &cli.App{
		Name:      "goavail",
		Usage:     "keep Cloudflare DNS records pointing at the IP addresses that answer ICMP",
		Version:   version,
		Writer:    stdout,
		ErrWriter: stderr,
		Description: "Exit codes: 0 clean stop or valid config; 1 runtime failure (e.g. no ICMP socket);\n" +
			"2 bad flags, invalid config or missing credentials.\n" +
			"Credentials come from the environment: CLOUDFLARE_API_TOKEN, or CLOUDFLARE_API_KEY with\n" +
			"CLOUDFLARE_EMAIL, or CF_API_KEY with CF_API_EMAIL. CLOUDFLARE_BASE_URL overrides the API endpoint.",
		Commands: []*cli.Command{
			{
				Name:  "monitor",
				Usage: "probe the configured addresses and reconcile DNS (dry-run unless --no-dry-run)",
				Description: "Runs until SIGINT or SIGTERM. SIGHUP (or POST /-/reload on http_listen) re-reads the\n" +
					"config file: an invalid file is rejected and the running config kept. Without\n" +
					"--no-dry-run, every change is logged and none is made; without credentials it plans as\n" +
					"if the configured records exist. With [Members] peers, agents must agree before DNS\n" +
					"changes, and only the one holding the writer lease (endorsed by a majority) writes;\n" +
					"/metrics and /status show what it sees.",
				Flags: []cli.Flag{
					configFlag,
					&cli.BoolFlag{Name: "no-dry-run", Usage: "make DNS changes (default: only log what would change)"},
					&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
					&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json"},
					&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the agent to this file until it stops (for go tool pprof)"},
					&cli.BoolFlag{Name: "pprof", Usage: "serve Go's /debug/pprof/ on http_listen (off by default: it shows internals and costs CPU while profiling)"},
				},
				Action: func(c *cli.Context) error {
					stop, err := startCPUProfile(c.String("cpuprofile"))
					if err != nil {
						return &exitError{exitConfig, err}
					}
					defer stop()
					return monitorCmd(c.Context, monitorOptions{
						configPath: c.String("config-file"), dryRun: !c.Bool("no-dry-run"),
						logLevel: c.String("log-level"), logFormat: c.String("log-format"), pprof: c.Bool("pprof"),
					}, stderr, os.Getenv)
				},
			},
			{
				Name:      "validate",
				Usage:     "check a config file: list every problem, or print the effective configuration",
				Flags:     []cli.Flag{configFlag},
				ArgsUsage: " ",
				Action:    func(c *cli.Context) error { return validateCmd(c.String("config-file"), stdout, os.Getenv) },
			},
			{
				Name:  "status",
				Usage: "show a running agent's targets, peers, writer and plan (from its /status)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "addr", Value: "http://127.0.0.1:9800", Usage: "the agent's http_listen address"},
					&cli.BoolFlag{Name: "json", Usage: "print the raw JSON document"},
				},
				ArgsUsage: " ",
				Action:    func(c *cli.Context) error { return statusCmd(c.Context, c.String("addr"), c.Bool("json"), stdout) },
			},
			{
				Name:  "keygen",
				Usage: "print a fresh random key for [Members] crypto_key (AES-256, base64)",
				Description: "Put the same key in every agent's crypto_key, or keep it out of the file with\n" +
					"crypto_key = \"env:GOAVAIL_CRYPTO_KEY\" or \"file:/etc/goavail/key\". To rotate, list the new\n" +
					"key second everywhere, then first, then drop the old one; see README.md.",
				ArgsUsage: " ",
				Action:    func(c *cli.Context) error { fmt.Fprintln(stdout, crypto.GenerateKey()); return nil },
			},
			{
				Name:   "version",
				Usage:  "print the version",
				Action: func(c *cli.Context) error { fmt.Fprintln(stdout, "goavail", version, "commit", commit); return nil },
			},
		},
	}
}
