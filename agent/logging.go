package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/goavail/goavail/monitor"
)

// tidyHandler keeps every log record on one line: libraries (memberlist's
// joined errors, "1 error occurred:\n\t* …") put newlines and tabs in
// messages and error values, which break line-based log readers. When
// alone is set it also demotes to debug the agreement's "agreed" line (a
// lone agent agrees with itself, so that line only repeats the "target
// state changed" line just before it) and the writer-lease lines (a lone
// agent always writes; "writer lease acquired … term=0" only puzzles).
type tidyHandler struct {
	next  slog.Handler
	alone bool
}

func (h tidyHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h tidyHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.alone && r.Level == slog.LevelInfo && loneNoise(r.Message) {
		r.Level = slog.LevelDebug
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	out := slog.NewRecord(r.Time, r.Level, OneLine(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(tidyAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// loneNoise reports whether a cluster line says nothing to a lone agent's
// operator.
func loneNoise(msg string) bool {
	return msg == "agreed" || msg == "preferred dns writer" || strings.HasPrefix(msg, "writer lease ") || msg == "dns write under the writer lease"
}

func (h tidyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	for i := range as {
		as[i] = tidyAttr(as[i])
	}
	return tidyHandler{h.next.WithAttrs(as), h.alone}
}

func (h tidyHandler) WithGroup(name string) slog.Handler {
	return tidyHandler{h.next.WithGroup(name), h.alone}
}

// tidyAttr flattens string and error values (groups included).
func tidyAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, OneLine(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, e := range g {
			out[i] = tidyAttr(e)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, OneLine(err.Error()))
		}
	}
	return a
}

// OneLine joins the lines of s with "; ", dropping blank lines and the
// leading tabs of indented ones.
func OneLine(s string) string {
	if !strings.ContainsAny(s, "\n\r") {
		return s
	}
	var parts []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

// clusterLogger is the cluster's logger: tidy, and with "agreed" at debug
// when the agent runs alone.
func clusterLogger(log *slog.Logger, alone bool) *slog.Logger {
	h := log.Handler()
	if t, ok := h.(tidyHandler); ok {
		h = t.next
	}
	return slog.New(tidyHandler{next: h, alone: alone}).With("component", "cluster")
}

// hostPort writes an "address:port" string with brackets around an IPv6
// address ("2001:db8::1:7946" becomes "[2001:db8::1]:7946").
func hostPort(s string) string {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || strings.HasPrefix(s, "[") {
		return s
	}
	return net.JoinHostPort(s[:i], s[i+1:])
}

func NewLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l, ReplaceAttr: durationText}
	switch format {
	case "text":
		return slog.New(tidyHandler{next: slog.NewTextHandler(w, opts)}), nil
	case "json":
		return slog.New(tidyHandler{next: slog.NewJSONHandler(w, opts)}), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// durationText renders durations as text ("1.5s"), not nanoseconds, in
// JSON logs too.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

// transitionLevel is the level of a target's transition: WARN into down,
// so that an on-call filter on WARN sees every address lost; INFO for the
// rest (up, unknown), like the probes' other lines.
func transitionLevel(to monitor.State) slog.Level {
	if to == monitor.Down {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
