package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/goavail/goavail/agent"
	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/history"
)

func historyCommand(configFlag cli.Flag, stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "history",
		Usage: "show what an agent saw and did: transitions, agreements, writers, DNS changes, drains",
		Description: "Asks the running agent at the config file's http_listen (GET /history), or, when no agent\n" +
			"answers there, reads its history file beside the state file directly (or --file). Text is one\n" +
			"line per event, oldest first; --json prints a JSON array of the events.",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			configFlag,
			&cli.StringFlag{Name: "addr", Usage: "the agent's http_listen address (default: from the config file)"},
			&cli.StringFlag{Name: "file", Usage: "read this history file (state.history.db) instead of asking an agent"},
			&cli.StringFlag{Name: "address", Usage: "only events about this IP address"},
			&cli.StringFlag{Name: "hostname", Usage: "only events about this hostname (its addresses and its records)"},
			&cli.StringFlag{Name: "since", Value: "24h", Usage: "how far back: a duration (24h, 90m) or an RFC 3339 time"},
			&cli.IntFlag{Name: "limit", Value: history.DefaultLimit, Usage: "at most this many events, the newest"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array of the events"},
		},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			q := url.Values{"since": {c.String("since")}, "limit": {strconv.Itoa(c.Int("limit"))}}
			for _, k := range []string{"address", "hostname"} {
				if v := c.String(k); v != "" {
					q.Set(k, v)
				}
			}
			f, err := agent.ParseHistoryFilter(q, time.Now())
			if err != nil {
				return usageError("--%w", err)
			}
			events, err := readHistory(c, q, f)
			if err != nil {
				return err
			}
			return printHistory(stdout, events, c.Bool("json"))
		},
	}
}

// readHistory asks the running agent, or reads the file when none answers.
func readHistory(c *cli.Context, q url.Values, f history.Filter) ([]history.Event, error) {
	if p := c.String("file"); p != "" {
		return readHistoryFile(p, f)
	}
	t, err := statusTarget(c, os.Getenv)
	if err != nil {
		return nil, err
	}
	body, err := getAgent(c.Context, t.url+"/history?"+q.Encode())
	if err == nil {
		var events []history.Event
		if err := json.Unmarshal(body, &events); err != nil {
			return nil, &exitError{exitRuntime, fmt.Errorf("%s/history: not a goavail history: %w", t.url, err)}
		}
		return events, nil
	}
	path := ""
	if !c.IsSet("addr") {
		path = historyFileOf(c)
	}
	if path == "" {
		return nil, err
	}
	events, ferr := readHistoryFile(path, f)
	if errors.Is(ferr, history.ErrLocked) {
		return nil, &exitError{exitRuntime, fmt.Errorf("%w; and an agent holds %s open, so it runs but does not answer on http_listen", err, path)}
	}
	if ferr != nil {
		return nil, &exitError{exitRuntime, fmt.Errorf("%w; nor could the history file be read: %w", err, ferr)}
	}
	return events, nil
}

// historyFileOf is the history file of the config statusTarget read, or "".
func historyFileOf(c *cli.Context) string {
	path := c.String("config-file")
	if !c.IsSet("config-file") && os.Getenv("GOAVAIL_CONFIG") == "" && !exists(path) {
		path = packagedConfig
	}
	cfg, err := config.Load(path)
	if err != nil {
		return ""
	}
	return agent.HistoryPath(cfg, os.Getenv)
}

func readHistoryFile(path string, f history.Filter) ([]history.Event, error) {
	s, err := history.OpenReadOnly(path, 2*time.Second)
	if err != nil {
		return nil, &exitError{exitRuntime, err}
	}
	defer s.Close()
	events, err := s.Query(f)
	if err != nil {
		return nil, &exitError{exitRuntime, err}
	}
	return events, nil
}

func printHistory(w io.Writer, events []history.Event, asJSON bool) error {
	if asJSON {
		if events == nil {
			events = []history.Event{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(events)
	}
	if len(events) == 0 {
		_, err := fmt.Fprintln(w, "no events")
		return err
	}
	for _, e := range events {
		if _, err := fmt.Fprintln(w, e.Line()); err != nil {
			return err
		}
	}
	return nil
}
