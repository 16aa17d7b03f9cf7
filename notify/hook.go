package notify

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Hook runs a command for each event, keepalived-style: the event is in
// GOAVAIL_* environment variables, and the command is killed after Timeout.
type Hook struct {
	Command []string // program and arguments; no shell
	Timeout time.Duration
	Kinds   []string // empty: every kind
}

// Name names the hook in logs.
func (h Hook) Name() string { return "hook " + h.Command[0] }

// Wants reports whether the hook runs for kind.
func (h Hook) Wants(kind string) bool { return wants(h.Kinds, kind) }

// Env returns the environment variables that describe e.
func Env(e Event) []string {
	vars := []struct{ k, v string }{
		{"GOAVAIL_EVENT", e.Kind}, {"GOAVAIL_TIME", e.At.UTC().Format(time.RFC3339Nano)}, {"GOAVAIL_NODE", e.Node},
		{"GOAVAIL_ADDRESS", e.Address}, {"GOAVAIL_FROM", e.From}, {"GOAVAIL_TO", e.To}, {"GOAVAIL_EVIDENCE", e.Evidence},
		{"GOAVAIL_ZONE", e.Zone}, {"GOAVAIL_NAME", e.Name}, {"GOAVAIL_RECORD_TYPE", e.Type}, {"GOAVAIL_CONTENT", e.Content},
		{"GOAVAIL_ACTION", e.Action}, {"GOAVAIL_MODE", e.Mode}, {"GOAVAIL_ERROR", e.Error}, {"GOAVAIL_BY", e.By}, {"GOAVAIL_REASON", e.Reason},
		{"GOAVAIL_SUMMARY", e.Summary()},
	}
	out := make([]string, 0, len(vars))
	for _, v := range vars {
		out = append(out, v.k+"="+v.v)
	}
	return out
}

// Deliver runs the command and waits for it, at most Timeout.
func (h Hook) Deliver(ctx context.Context, e Event) error {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.Command[0], h.Command[1:]...)
	cmd.Env = append(os.Environ(), Env(e)...)
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return fmt.Errorf("%s: killed after %s", strings.Join(h.Command, " "), h.Timeout)
	case err != nil:
		return fmt.Errorf("%s: %w: %.300s", strings.Join(h.Command, " "), err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}
