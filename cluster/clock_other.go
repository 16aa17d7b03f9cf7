//go:build !linux

package cluster

import "time"

// bootClock is the default Mono clock: Go's monotonic reading, which may
// stop while the system is suspended (see clock_linux.go).
func bootClock() time.Time { return time.Now() }
