package main

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/goavail/goavail/crypto"
)

// version and commit are set at build time (make build, goreleaser):
// -ldflags "-X main.version=v1.2.3 -X main.commit=<sha>". Without them,
// the module version and the VCS revision Go stamps are used (buildinfo.go).
var (
	version = "dev"
	commit  = "unknown"
)

// Exit codes, documented in README.md and in the help text.
const (
	exitOK      = 0 // clean stop, or a valid config
	exitRuntime = 1 // a failure while running (e.g. no ICMP socket)
	exitConfig  = 2 // bad flags or arguments, an invalid config file or missing credentials
)

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

// exitError carries an exit code through urfave/cli.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError is a mistake on the command line: exit code 2.
func usageError(format string, a ...any) error {
	return &exitError{exitConfig, fmt.Errorf(format, a...)}
}

func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	if err := app.Run(flagsFirst(app, args)); err != nil {
		fmt.Fprintln(stderr, "goavail:", err)
		if ee, ok := err.(*exitError); ok {
			return ee.code
		}
		return exitConfig // flag and usage errors
	}
	return exitOK
}

const commandList = "monitor, validate, status, drain, undrain, history, keygen or version"

func newApp(stdout, stderr io.Writer) *cli.App {
	configFlag := &cli.StringFlag{Name: "config-file", Aliases: []string{"f"}, Value: "goavail.toml", EnvVars: []string{"GOAVAIL_CONFIG"},
		Usage: "path to the TOML configuration (or give it as the argument); without it ./goavail.toml, else /etc/goavail/goavail.toml"}
	agentFlag := &cli.StringFlag{Name: "config-file", Aliases: []string{"f"}, Value: "goavail.toml", EnvVars: []string{"GOAVAIL_CONFIG"},
		Usage: "the config naming the agent to ask (http_listen, node_name); without it ./goavail.toml, else /etc/goavail/goavail.toml"}
	cmds := []*cli.Command{
		{
			Name:  "monitor",
			Usage: "probe the configured addresses and reconcile DNS (dry-run unless --no-dry-run)",
			Description: "Runs until SIGINT or SIGTERM. SIGHUP (or POST /-/reload on http_listen) re-reads the\n" +
				"config file: an invalid file is rejected and the running config kept. Without\n" +
				"--no-dry-run, every change is logged and none is made; without credentials it plans as\n" +
				"if the configured records exist. With [Members] peers, agents must agree before DNS\n" +
				"changes, and only the one holding the writer lease (endorsed by a majority) writes;\n" +
				"/metrics and /status show what it sees.",
			ArgsUsage: "[CONFIG-FILE]",
			Flags: []cli.Flag{
				configFlag,
				&cli.BoolFlag{Name: "no-dry-run", Usage: "make DNS changes (default: only log what would change)"},
				&cli.BoolFlag{Name: "dry-run", Aliases: []string{"d"}, Usage: "only log what would change (the default; kept for the original goavail's flag)", Hidden: true},
				&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
				&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json"},
				&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the agent to this file until it stops (for go tool pprof)"},
				&cli.BoolFlag{Name: "pprof", Usage: "serve Go's /debug/pprof/ on http_listen (off by default: it shows internals and costs CPU while profiling)"},
			},
			Action: func(c *cli.Context) error {
				path, err := configArg(c)
				if err != nil {
					return err
				}
				if c.Bool("dry-run") && c.Bool("no-dry-run") {
					return usageError("--dry-run and --no-dry-run contradict each other: give one")
				}
				stop, err := startCPUProfile(c.String("cpuprofile"))
				if err != nil {
					return &exitError{exitConfig, err}
				}
				defer stop()
				return monitorCmd(c.Context, monitorOptions{
					configPath: path, dryRun: !c.Bool("no-dry-run"),
					logLevel: c.String("log-level"), logFormat: c.String("log-format"), pprof: c.Bool("pprof"),
				}, stderr, os.Getenv)
			},
		},
		{
			Name:      "validate",
			Usage:     "check a config file: list every problem, or say it is valid and print the effective configuration",
			ArgsUsage: "[CONFIG-FILE]",
			Flags: []cli.Flag{configFlag,
				&cli.BoolFlag{Name: "check-api", Usage: "also ask the DNS provider (Cloudflare, the RFC 2136 server, Route 53), with the credentials monitor would use: look every zone up, and list the managed records whose ttl or proxied flag differs from the config (changes nothing)"}},
			Action: func(c *cli.Context) error {
				path, err := configArg(c)
				if err != nil {
					return err
				}
				if err := validateCmd(path, stdout, os.Getenv); err != nil {
					return err
				}
				if c.Bool("check-api") {
					return checkAPICmd(c.Context, path, stdout, os.Getenv)
				}
				return nil
			},
		},
		{
			Name:  "status",
			Usage: "show a running agent's targets, drains, peers, writer and plan (from its /status)",
			Description: "Without --addr, asks the agent at the config file's http_listen and checks that the\n" +
				"agent answering there has the config's node_name.",
			Flags: []cli.Flag{
				agentFlag,
				&cli.StringFlag{Name: "addr", Usage: "the agent's http_listen address (default: from the config file, else 127.0.0.1:9800)"},
				&cli.BoolFlag{Name: "json", Usage: "print the raw JSON document"},
			},
			ArgsUsage: " ",
			Action: func(c *cli.Context) error {
				if err := noArgs(c); err != nil {
					return err
				}
				t, err := statusTarget(c, os.Getenv)
				if err != nil {
					return err
				}
				return statusCmd(c.Context, t, c.Bool("json"), stdout)
			},
		},
		drainCommand(agentFlag, stdout),
		historyCommand(agentFlag, stdout),
		undrainCommand(agentFlag, stdout),
		{
			Name:  "keygen",
			Usage: "print a fresh random key for [Members] crypto_key (AES-256, base64)",
			Description: "Put the same key in every agent's crypto_key, or keep it out of the file with\n" +
				"crypto_key = \"cred:crypto_key\" (systemd LoadCredential=), \"env:GOAVAIL_CRYPTO_KEY\" or\n" +
				"\"file:/etc/goavail/key\". To rotate, list the new key second everywhere, then first,\n" +
				"then drop the old one; see docs/cluster.md, \"Keys and rotation\".",
			ArgsUsage: " ",
			Action: func(c *cli.Context) error {
				if err := noArgs(c); err != nil {
					return err
				}
				fmt.Fprintln(stdout, crypto.GenerateKey())
				return nil
			},
		},
		{
			Name:      "version",
			Usage:     "print the version, the commit and the Go version it was built with",
			ArgsUsage: " ",
			Action: func(c *cli.Context) error {
				if err := noArgs(c); err != nil {
					return err
				}
				fmt.Fprintln(stdout, versionLine())
				return nil
			},
		},
	}
	for _, cmd := range cmds {
		cmd.OnUsageError = onUsageError
	}
	return &cli.App{
		Name:        "goavail",
		Usage:       "keep DNS records (Cloudflare, RFC 2136, Route 53) pointing at the IP addresses that pass their health checks (ICMP, TCP, HTTP, HTTPS)",
		Version:     version,
		HideVersion: true, // --version is ours, so that it prints what `goavail version` prints
		Writer:      stdout,
		ErrWriter:   stderr,
		Description: "Exit codes: 0 clean stop or valid config; 1 runtime failure (e.g. no ICMP socket, the\n" +
			"agent not answering); 2 bad flags or arguments, unknown command, invalid config or missing\n" +
			"credentials.\n" +
			"Credentials come from the environment: CLOUDFLARE_API_TOKEN, or CLOUDFLARE_API_KEY with\n" +
			"CLOUDFLARE_EMAIL, or CF_API_KEY with CF_API_EMAIL; under systemd also the credential\n" +
			"cloudflare_api_token. CLOUDFLARE_BASE_URL overrides the API endpoint.",
		Flags:          []cli.Flag{&cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version"}},
		Commands:       cmds,
		OnUsageError:   onUsageError,
		ExitErrHandler: func(*cli.Context, error) {}, // run decides the exit code; the library never exits
		Action: func(c *cli.Context) error {
			switch {
			case c.Bool("version"):
				fmt.Fprintln(stdout, versionLine())
				return nil
			case c.Args().Present():
				return usageError("unknown command %q: use %s (goavail --help)", c.Args().First(), commandList)
			}
			return cli.ShowAppHelp(c)
		},
	}
}

// configArg returns the config file: the one argument, or --config-file.
// Giving both, differently, or more than one argument is an error, never a
// silent choice.
func configArg(c *cli.Context) (string, error) {
	path := c.String("config-file")
	switch c.NArg() {
	case 0:
		if !c.IsSet("config-file") && os.Getenv("GOAVAIL_CONFIG") == "" {
			return defaultConfig(exists), nil
		}
		return path, nil
	case 1:
		arg := c.Args().First()
		if c.IsSet("config-file") && arg != path {
			return "", usageError("%s: two config files given (--config-file %s and %s): give one", c.Command.Name, path, arg)
		}
		return arg, nil
	}
	return "", usageError("%s: takes one config file, got %d arguments (%q); flags go before the file", c.Command.Name, c.NArg(), c.Args().Slice())
}

// defaultConfig is the config file a command reads when none is given:
// ./goavail.toml, else the packages' /etc/goavail/goavail.toml, else
// ./goavail.toml (whose absence the load then reports).
func defaultConfig(exists func(string) bool) string {
	if !exists(localConfig) && exists(packagedConfig) {
		return packagedConfig
	}
	return localConfig
}

// localConfig is the config file in the working directory.
const localConfig = "goavail.toml"

// noArgs refuses arguments a command does not read.
func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("%s takes no arguments, got %q", c.Command.Name, c.Args().Slice())
	}
	return nil
}
