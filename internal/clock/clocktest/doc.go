// Package clocktest is a fake clock.Clock for tests: it moves only when
// told to, and its timers fire when Advance passes their deadline.
package clocktest
