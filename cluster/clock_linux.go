package cluster

import (
	"time"

	"golang.org/x/sys/unix"
)

// bootClock is the default Mono clock on Linux: CLOCK_BOOTTIME, which,
// unlike Go's monotonic reading (CLOCK_MONOTONIC), keeps counting while the
// system is suspended. A lease holder that is suspended (a laptop lid, a
// VM paused by its host) finds on resume that its lease ran out while it
// slept, as the other agents measured it; SIGSTOP stops only the process,
// and either clock counts through it.
func bootClock() time.Time {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return time.Now() // no CLOCK_BOOTTIME (Linux < 2.6.39): the monotonic reading
	}
	return time.Unix(0, ts.Nano())
}
