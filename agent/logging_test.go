package agent

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestLogger_OneLinePerRecord: multi-line messages and errors (memberlist's
// joined errors) are flattened, in text and JSON.
func TestLogger_OneLinePerRecord(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var b bytes.Buffer
		log, _ := NewLogger("info", format, &b)
		err := errors.New("1 error occurred:\n\t* Failed to join 192.0.2.7:7946: connection refused\n\n")
		log.With("component", "cluster").Warn("[WARN] memberlist: Failed to resolve\nsecond line", "err", err, slog.Group("g", "s", "a\nb"))
		out := b.String()
		if strings.Count(out, "\n") != 1 {
			t.Errorf("%s: not one line:\n%s", format, out)
		}
		if !strings.Contains(out, "1 error occurred:; * Failed to join 192.0.2.7:7946: connection refused") || !strings.Contains(out, "Failed to resolve; second line") {
			t.Errorf("%s: flattened wrong: %s", format, out)
		}
	}
}

// TestClusterLogger_AloneAgreedIsDebug: a lone agent's "agreed" line (which
// repeats the transition) is debug; with peers it stays info, and other
// lines are untouched.
func TestClusterLogger_AloneAgreedIsDebug(t *testing.T) {
	for _, alone := range []bool{true, false} {
		var b bytes.Buffer
		log, _ := NewLogger("info", "text", &b)
		cl := clusterLogger(log, alone)
		cl.Info("agreed", "addr", "192.0.2.1", "from", "unknown", "to", "up")
		cl.Info("dns writer", "writer", "vm")
		if got := strings.Contains(b.String(), "msg=agreed"); got == alone {
			t.Errorf("alone=%v: agreed logged at info: %v\n%s", alone, got, b.String())
		}
		if !strings.Contains(b.String(), `msg="dns writer"`) || !strings.Contains(b.String(), "component=cluster") {
			t.Errorf("alone=%v: other lines lost:\n%s", alone, b.String())
		}
	}
	var b bytes.Buffer
	log, _ := NewLogger("debug", "text", &b)
	clusterLogger(log, true).Info("agreed", "addr", "192.0.2.1")
	if !strings.Contains(b.String(), "level=DEBUG msg=agreed") {
		t.Errorf("at debug the demoted line shows: %s", b.String())
	}
}

// TestHostPort brackets IPv6 gossip addresses.
func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{"2001:db8::1:7946": "[2001:db8::1]:7946", "192.0.2.1:7946": "192.0.2.1:7946", "": "", "[::1]:7946": "[::1]:7946"} {
		if got := hostPort(in); got != want {
			t.Errorf("hostPort(%q) = %q, want %q", in, got, want)
		}
	}
}
