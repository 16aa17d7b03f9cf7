package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/goavail/goavail/agent"
	"github.com/goavail/goavail/config"
)

// agentTarget is where a command finds a running agent, and the node name
// it expects to answer (empty: any).
type agentTarget struct {
	url  string // http://host:port, no trailing slash
	node string
	from string // how the address was chosen, for error messages
}

// statusTarget picks the agent to ask: --addr if given, else the config
// file's http_listen (and its node_name, which the answer must match). The
// config file is --config-file, else ./goavail.toml, else
// /etc/goavail/goavail.toml; with none at all, 127.0.0.1:9800.
func statusTarget(c *cli.Context, getenv func(string) string) (agentTarget, error) {
	if a := c.String("addr"); a != "" {
		u := strings.TrimSuffix(a, "/")
		if !strings.Contains(u, "://") {
			u = "http://" + u
		}
		return agentTarget{url: u, from: "--addr"}, nil
	}
	path := c.String("config-file")
	if !c.IsSet("config-file") && getenv("GOAVAIL_CONFIG") == "" {
		path = defaultConfig(exists) // no ./goavail.toml: the installed one, if any
		if !exists(path) {
			return agentTarget{url: "http://" + config.DefaultHTTPListen, from: "the default address (no goavail.toml here, none in /etc/goavail)"}, nil
		}
	}
	cfg, err := config.Load(path)
	if err != nil {
		return brokenConfigTarget(c.App.ErrWriter, path, err)
	}
	if cfg.HTTPListen == "" {
		return agentTarget{}, usageError("%s sets http_listen = \"\": the agent serves no HTTP; set it, or pass --addr", path)
	}
	return agentTarget{url: "http://" + dialable(cfg.HTTPListen), node: cfg.NodeName, from: "http_listen in " + path}, nil
}

// brokenConfigTarget picks the agent to ask when the config file does not
// load: the running agent is fine, and the operator needs status and drain
// most right then. It reads what it can of the file (http_listen,
// node_name), else takes the default address, and says so on w.
func brokenConfigTarget(w io.Writer, path string, loadErr error) (agentTarget, error) {
	listen, node, ok := config.AgentAddress(path)
	from := "http_listen read from the invalid " + path
	if !ok {
		listen, node, from = config.DefaultHTTPListen, "", "the default address, as "+path+" is not readable TOML"
	}
	if listen == "" {
		return agentTarget{}, &exitError{exitConfig, fmt.Errorf("%s is invalid and sets http_listen = \"\"; pass --addr: %w", path, loadErr)}
	}
	t := agentTarget{url: "http://" + dialable(listen), node: node, from: from}
	first, _, _ := strings.Cut(loadErr.Error(), "\n")
	fmt.Fprintf(w, "goavail: warning: %s is invalid (%s; goavail validate lists every problem); asking the agent at %s (%s); pass --addr to ask another\n",
		path, first, dialable(listen), from)
	return t, nil
}

// packagedConfig is where the packages install the config.
const packagedConfig = "/etc/goavail/goavail.toml"

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// dialable turns a listen address into one to connect to: an unspecified
// host (":9800", "0.0.0.0:9800", "[::]:9800") becomes loopback.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// checkNode refuses an answer from another agent than the config names.
func (t agentTarget) checkNode(got string) error {
	if t.node != "" && got != t.node {
		return &exitError{exitRuntime, fmt.Errorf("the agent at %s (%s) is node %q, not %q as the config says: another agent answers there; pass --addr, or check http_listen and node_name", t.url, t.from, got, t.node)}
	}
	return nil
}

func drainFlags(configFlag cli.Flag) []cli.Flag {
	return []cli.Flag{
		configFlag,
		&cli.StringFlag{Name: "addr", Usage: "the agent's http_listen address (default: from the config file)"},
		&cli.StringFlag{Name: "token-file", Usage: "file holding the API token (default: $GOAVAIL_API_TOKEN, $GOAVAIL_API_TOKEN_FILE, or the api_token credential)"},
	}
}

const drainHelp = "Goes through a running agent's HTTP API (http_listen), which needs an API token: the agent\n" +
	"and this command read it from GOAVAIL_API_TOKEN, the file GOAVAIL_API_TOKEN_FILE names, or the\n" +
	"systemd credential api_token (/etc/goavail/credentials/api_token when run by hand as root).\n" +
	"In a cluster, the drain reaches every agent through the views.\n" +
	"A drained address is still probed and shown by goavail status. Drains survive restarts\n" +
	"(beside the state file). To drain for good, use the group's drain key in the config instead."

func drainCommand(configFlag cli.Flag, stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:        "drain",
		Usage:       "take an address out of DNS on purpose (maintenance), through the running agent",
		ArgsUsage:   "ADDRESS",
		Description: drainHelp + "\nDraining an address whose hostnames would be left with no address in DNS is refused\nunless --force.",
		Flags: append(drainFlags(configFlag),
			&cli.StringFlag{Name: "reason", Usage: "why, for the logs, /status and notifications"},
			&cli.BoolFlag{Name: "force", Usage: "drain even if a hostname is left with no address in DNS"}),
		Action: func(c *cli.Context) error {
			return drainAction(c, stdout, "drain", agent.DrainRequest{Reason: c.String("reason"), Force: c.Bool("force")})
		},
	}
}

func undrainCommand(configFlag cli.Flag, stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:        "undrain",
		Usage:       "put a drained address back into DNS (once it answers), through the running agent",
		ArgsUsage:   "ADDRESS",
		Description: drainHelp,
		Flags:       drainFlags(configFlag),
		Action:      func(c *cli.Context) error { return drainAction(c, stdout, "undrain", agent.DrainRequest{}) },
	}
}

func drainAction(c *cli.Context, stdout io.Writer, action string, req agent.DrainRequest) error {
	if c.NArg() != 1 {
		return usageError("%s takes one address, got %d arguments %q (flags go before the address)", action, c.NArg(), c.Args().Slice())
	}
	req.Address = c.Args().First()
	req.By = operator(os.Getenv)
	t, err := statusTarget(c, os.Getenv)
	if err != nil {
		return err
	}
	getenv := os.Getenv
	if f := c.String("token-file"); f != "" {
		getenv = func(k string) string {
			if k == "GOAVAIL_API_TOKEN_FILE" {
				return f
			}
			if k == "GOAVAIL_API_TOKEN" {
				return ""
			}
			return os.Getenv(k)
		}
	}
	token, err := agent.APIToken(getenv)
	if err != nil {
		return &exitError{exitConfig, err}
	}
	if token == "" {
		return usageError("%s needs the agent's API token: set GOAVAIL_API_TOKEN or GOAVAIL_API_TOKEN_FILE, or pass --token-file", action)
	}
	if t.node != "" {
		if err := checkAgent(c.Context, t); err != nil {
			return err
		}
	}
	e, err := postDrain(c.Context, t.url, token, action, req)
	if err != nil {
		return err
	}
	switch {
	case action == "undrain" && e.At.IsZero():
		fmt.Fprintf(stdout, "%s was not drained\n", req.Address)
	case action == "undrain":
		fmt.Fprintf(stdout, "%s undrained by %s; its records return once it answers\n", e.Addr, e.By)
	default:
		fmt.Fprintf(stdout, "%s drained by %s at %s", e.Addr, e.By, e.At.Format(time.RFC3339))
		if e.Reason != "" {
			fmt.Fprintf(stdout, ": %s", e.Reason)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// operator names who runs the command: the sudo user or the user, at the
// host.
func operator(getenv func(string) string) string {
	return operatorAs(getenv, os.Getuid(), user.LookupId)
}

// operatorAs is operator with the uid and its lookup given: without SUDO_USER
// or USER (cron, a container, a systemd unit) it names the uid's user, or
// "uid N" when the uid has no name.
func operatorAs(getenv func(string) string, uid int, lookup func(string) (*user.User, error)) string {
	u := cmp.Or(getenv("SUDO_USER"), getenv("USER"))
	if u == "" {
		u = fmt.Sprintf("uid %d", uid)
		if pw, err := lookup(strconv.Itoa(uid)); err == nil && pw.Username != "" {
			u = pw.Username
		}
	}
	if h, err := os.Hostname(); err == nil {
		u += "@" + h
	}
	return u
}

// checkAgent makes sure the agent at t is the one the config names.
func checkAgent(ctx context.Context, t agentTarget) error {
	body, err := getAgent(ctx, t.url+"/status")
	if err != nil {
		return err
	}
	var doc struct {
		Node string `json:"node"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return &exitError{exitRuntime, fmt.Errorf("%s/status: not a goavail status document: %w", t.url, err)}
	}
	return t.checkNode(doc.Node)
}

func postDrain(ctx context.Context, base, token, action string, req agent.DrainRequest) (agent.DrainEntry, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, _ := json.Marshal(req)
	url := base + "/-/" + action
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return agent.DrainEntry{}, usageError("--addr: %v", err)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		return agent.DrainEntry{}, &exitError{exitRuntime, fmt.Errorf("no goavail answering at %s (is http_listen set, and the agent running?): %w", base, err)}
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusOK {
		return agent.DrainEntry{}, &exitError{exitRuntime, fmt.Errorf("%s refused: %s", action, strings.TrimSpace(string(body)))}
	}
	var e agent.DrainEntry
	if err := json.Unmarshal(body, &e); err != nil {
		return agent.DrainEntry{}, &exitError{exitRuntime, fmt.Errorf("%s: unexpected answer: %w", url, err)}
	}
	return e, nil
}
