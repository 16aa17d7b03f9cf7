package dns

import "github.com/goavail/goavail/internal/clock/clocktest"

// fakeClock is the shared fake clock (internal/clock/clocktest).
type fakeClock = clocktest.Clock

func newFakeClock() *fakeClock { return clocktest.New() }
