// Package clock holds the time source the DNS reconciler runs on, so that
// tests of the dns core and of its providers can share one fake
// (clocktest) without an import cycle.
package clock
