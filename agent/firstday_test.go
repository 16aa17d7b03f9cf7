package agent

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// TestLogger_JSONDurationsAsText: JSON logs print durations as "1.5s",
// not nanoseconds.
func TestLogger_JSONDurationsAsText(t *testing.T) {
	var b bytes.Buffer
	log, err := NewLogger("info", "json", &b)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("x", "interval", 1500*time.Millisecond, slog.Group("g", "d", time.Minute))
	var got struct {
		Interval string
		G        struct{ D string }
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil || got.Interval != "1.5s" || got.G.D != "1m0s" {
		t.Errorf("log line %s: %+v, %v", b.String(), got, err)
	}
}

// TestHTTPListen_PortTaken names the fix when the port is in use.
func TestHTTPListen_PortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = newHTTPServer(ln.Addr().String(), nil, nil, nil, nil, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "the port is taken") || !strings.Contains(err.Error(), `http_listen to a free port, or to ""`) {
		t.Errorf("listen on a taken port: %v", err)
	}
}
