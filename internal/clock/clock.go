package clock

import "time"

// Clock is a time source: the wall clock in production, a fake one in
// tests so that holds and backoffs are checked exactly, without sleeping.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer a Clock's user needs.
type Timer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}
