package cluster

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBootClock_CountsThroughSuspend: the default lease clock is
// CLOCK_BOOTTIME, the clock /proc/uptime reports (time since boot,
// suspend included), not Go's monotonic reading, which stops in a system
// suspend; a suspended holder so finds its lease over on resume. And a
// Fence under it still gives a context that ends when the lease does, by
// the process's own timers.
func TestBootClock_CountsThroughSuspend(t *testing.T) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Skipf("no /proc/uptime: %v", err)
	}
	boot := bootClock()
	up, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(boot.UnixNano()) - time.Duration(up*float64(time.Second)); d < -time.Second || d > time.Second {
		t.Errorf("bootClock reads %s since boot, /proc/uptime %.2fs", time.Duration(boot.UnixNano()), up)
	}
	if c, _ := New(Config{NodeName: "n", ViewInterval: time.Second, Log: testLogger(t)}); c.cfg.Mono().Sub(boot) > time.Minute {
		t.Errorf("the default Mono clock is not bootClock")
	}

	nodes := threeNodes(t)
	eventually(t, "n1 writes", func() bool { w, _ := nodes[0].IsWriter(); return w })
	var fctx context.Context
	eventually(t, "n1 fences", func() bool {
		ctx, cancel, err := nodes[0].Fence(context.Background())
		if err != nil {
			return false
		}
		t.Cleanup(cancel)
		fctx = ctx
		return true
	})
	dl, ok := fctx.Deadline()
	if left := time.Until(dl); !ok || left <= 0 || left > rules1.StaleAfter {
		t.Errorf("the fence's deadline is %s from now, want within the lease (%s)", left, rules1.StaleAfter)
	}
}
