package dns

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// The error classes the Reconciler acts on. Each provider maps its own
// answers into them (dns/cloudflare/errors.go for Cloudflare's codes); an
// error of none of these classes is transient: retried with backoff.

// RetryAfterError means the API asked the agent to wait before any further
// request (HTTP 429 with Retry-After, Retry-After-Ms or an HTTP date).
// Wait is what the API said: 0 when it said nothing (or 0). The Reconciler
// holds at least a floor that grows across 429s in a row (pace.go).
type RetryAfterError struct {
	Wait time.Duration
	// Window, when set, is the span of the provider's rate limit (Route
	// 53: 5 requests a second per account): its throttle clears within
	// it, so the hold is a window and a jitter, and grows only after
	// windowTries throttles in a row, instead of the 2 s floor that
	// doubles at once (Cloudflare's budget is over 5 minutes).
	Window time.Duration
	Err    error
}

func (e *RetryAfterError) Error() string {
	if e.Wait <= 0 {
		return fmt.Sprintf("%v (rate limited, no Retry-After)", e.Err)
	}
	return fmt.Sprintf("%v (rate limited: retry after %s)", e.Err, e.Wait)
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// PermanentError means retrying soon will not help and no change is to
// blame: bad credentials or a missing zone. The operator must act.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// RejectedError means the API refused a change set for what it contains
// (a changeCode, or any other 4xx that is not about credentials,
// the zone or the rate: a batch over the plan's size, say). Retrying the same set never helps;
// splitting it finds the change to blame.
type RejectedError struct {
	Status  int
	Code    int64
	Message string
	// Content is set when Code names something a change holds (a ttl, a
	// comment, a CNAME at the name), not the batch as a whole (its size):
	// when both halves of a batch are refused with the same content code,
	// every change is taken to carry it and splitting stops.
	Content bool
	// TooLarge is set when the provider refused the batch for its size
	// alone (Cloudflare's plan limit, a DNS message over 64 KiB): the
	// zone's batches are made smaller (Limit changes each, when the
	// provider said; else half) and sent again, without counting as a
	// split that looks for a bad change.
	TooLarge bool
	Limit    int
	Err      error
}

func (e *RejectedError) Error() string { return e.Err.Error() }
func (e *RejectedError) Unwrap() error { return e.Err }

// StaleError means the zone changed under the plan (a record already
// exists, or is already gone): the change is in effect already.
type StaleError struct {
	Code int64
	Err  error
}

func (e *StaleError) Error() string { return e.Err.Error() }
func (e *StaleError) Unwrap() error { return e.Err }

// ZoneError means the zone id the adapter used is no longer valid; the
// adapter has dropped it and looks the zone up again on the next request.
type ZoneError struct{ Err error }

func (e *ZoneError) Error() string { return e.Err.Error() }
func (e *ZoneError) Unwrap() error { return e.Err }

// Unsent reports whether err proves the request was not applied: the API
// answered with a refusal, or the connection was never made. A timeout, a
// reset or a 5xx may hide a request that was applied, so they are not.
func Unsent(err error) bool {
	var ra *RetryAfterError
	var perm *PermanentError
	var rej *RejectedError
	var stale *StaleError
	var zerr *ZoneError
	if errors.As(err, &ra) || errors.As(err, &perm) || errors.As(err, &rej) || errors.As(err, &stale) || errors.As(err, &zerr) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" || errors.Is(err, syscall.ECONNREFUSED)
}
