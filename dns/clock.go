package dns

import "time"

// Clock is the time source of the Reconciler: the wall clock in
// production, a fake one in tests so that holds and backoffs are checked
// exactly, without sleeping.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the Reconciler uses.
type Timer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

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
