package crypto

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Errors ReplayGuard returns.
var (
	ErrReplay    = errors.New("message replayed or out of order")
	ErrClockSkew = errors.New("message timestamp too far from this agent's clock")
	ErrSenders   = errors.New("too many distinct senders")
	// ErrReordered is a message older than the sender's last accepted one
	// but sealed within ReorderWindow of it: two messages overtook each
	// other on separate connections. It is dropped like a replay (the newer
	// one is already known), but it is not a sign of an attack.
	ErrReordered = errors.New("message arrived after a newer one from the same sender")
)

// ReorderWindow is how close in sealing time an older message must be to
// the last accepted one to count as reordered rather than replayed.
const ReorderWindow = 2 * time.Second

type position struct {
	inc, seq uint64
	at       time.Time
	retired  []uint64 // earlier incarnations this sender restarted from, newest last
}

// maxRetired bounds how many retired incarnations a sender's entry keeps.
const maxRetired = 8

// maxSenders bounds the guard's memory; a cluster has a handful of agents.
const maxSenders = 1024

// ReplayGuard accepts a sender's messages only in increasing (incarnation,
// sequence) order, and only when their timestamp is within MaxSkew of now.
// The order check stops a captured message being played back while the
// sender's newer ones are known; the timestamp check bounds replays to an
// agent that has just restarted and forgotten the order.
//
// One exception keeps an agent whose clock stepped back before it
// restarted (its new incarnation is lower than the old one) from being
// refused for ever: a lower incarnation is accepted once the last accepted
// message is more than MaxSkew old by its own timestamp, for every message
// of the old incarnation sealed up to then is by now refused by the
// timestamp check; the old incarnation is then retired, and its messages
// stay refused. (A higher incarnation needs no retiring: the lower one's
// messages are refused by order, or, after the same MaxSkew of silence, by
// their timestamps.) It is pure: the caller passes the time. It is not safe for
// concurrent use.
type ReplayGuard struct {
	MaxSkew time.Duration
	last    map[string]position
}

// NewReplayGuard returns a guard that allows clocks to differ by maxSkew.
func NewReplayGuard(maxSkew time.Duration) *ReplayGuard {
	return &ReplayGuard{MaxSkew: maxSkew, last: map[string]position{}}
}

// Check accepts e, remembering its position, or says why it is refused.
func (g *ReplayGuard) Check(e Envelope, now time.Time) error {
	if d := now.Sub(e.Time); d > g.MaxSkew || d < -g.MaxSkew {
		return fmt.Errorf("%w: %s's message is %s old by this clock (limit ±%s; check NTP on both agents)", ErrClockSkew, e.Sender, d.Round(time.Millisecond), g.MaxSkew)
	}
	last, seen := g.last[e.Sender]
	if seen && slices.Contains(last.retired, e.Incarnation) {
		return fmt.Errorf("%w: %s sent a message of incarnation %d, which it restarted from", ErrReplay, e.Sender, e.Incarnation)
	}
	restarted := seen && e.Incarnation < last.inc && now.Sub(last.at) > g.MaxSkew
	if seen && !restarted && (e.Incarnation < last.inc || e.Incarnation == last.inc && e.Seq <= last.seq) {
		reason := ErrReplay
		if e.Incarnation == last.inc && e.Seq < last.seq && last.at.Sub(e.Time) < ReorderWindow {
			reason = ErrReordered
		}
		return fmt.Errorf("%w: %s sent (%d, %d) after (%d, %d)", reason, e.Sender, e.Incarnation, e.Seq, last.inc, last.seq)
	}
	if !seen && len(g.last) >= maxSenders {
		return ErrSenders
	}
	next := position{inc: e.Incarnation, seq: e.Seq, at: e.Time}
	if seen {
		next.retired = last.retired
		if e.Incarnation < last.inc { // going down: the higher one must not come back
			next.retired = append(slices.Clone(last.retired), last.inc)
			next.retired = next.retired[max(0, len(next.retired)-maxRetired):]
		}
	}
	g.last[e.Sender] = next
	return nil
}
