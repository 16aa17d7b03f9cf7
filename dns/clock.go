package dns

import (
	"time"

	"github.com/goavail/goavail/internal/clock"
)

// Clock is the time source of the Reconciler: the wall clock in
// production, a fake one in tests (internal/clock/clocktest) so that holds
// and backoffs are checked exactly, without sleeping.
type Clock = clock.Clock

// Timer is the part of *time.Timer the Reconciler uses.
type Timer = clock.Timer

// wallClock is the real clock.
type wallClock struct{ now func() time.Time }

func (c wallClock) Now() time.Time { return c.now() }
func (wallClock) NewTimer(d time.Duration) Timer {
	return wallTimer{time.NewTimer(d)}
}

type wallTimer struct{ t *time.Timer }

func (t wallTimer) C() <-chan time.Time   { return t.t.C }
func (t wallTimer) Reset(d time.Duration) { t.t.Reset(d) }
func (t wallTimer) Stop()                 { t.t.Stop() }
