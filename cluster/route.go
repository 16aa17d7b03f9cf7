package cluster

import "time"

// Which transport carries a view message to a peer. A TCP stream costs
// about ten packets of headers per message (memberlist opens a connection
// for each), which at 10,000 targets and 1 % flapping was more than half of
// what an agent put on the wire; a UDP packet costs one.
//
// A small message goes by UDP. UDP says nothing of delivery, so a message
// sent by UDP never becomes a delta base: deltas are built on the peer's
// echo or on the last message a stream delivered (see deltaLog.forPeer),
// never on a packet, and a lost packet costs nothing to the messages after
// it. What a lost packet carried is sent again in every later delta until
// the peer echoes it.
//
// Invariant: a message sent by UDP that the peer has not echoed within
// lag (one view interval and two send gaps: the peer stages a view at
// least once per view interval, and sends it within a send gap) makes the
// next message go by TCP, and every message for hold after it (doubled
// after each hold with no packet echoed); so one-way UDP loss delays a
// peer's copy of our view by at most lag (plus a send gap), once per hold.
// A message too big for one packet always goes by TCP. Loss one way sends
// both ways by TCP: the echoes of the other direction ride the lost
// packets.

// transport is how one message goes to a peer.
type transport int

const (
	viaTCP transport = iota // memberlist SendReliable: a stream per message
	viaUDP                  // memberlist SendBestEffort: one packet
)

func (t transport) String() string {
	if t == viaUDP {
		return "udp"
	}
	return "tcp"
}

const (
	// maxUDPMessage is the largest sealed message sent by UDP: memberlist
	// adds its own type byte and encryption (about 40 bytes), IP and UDP
	// about 50, and the packet must fit a 1,500-byte MTU unfragmented
	// (memberlist's UDPBufferSize is 1,400).
	maxUDPMessage = 1300
	// udpHoldMin is the least time a peer whose echo lagged gets every
	// message by TCP before UDP is tried again.
	udpHoldMin = 30 * time.Second
	// maxStrikes bounds the doublings of the hold for a path whose packets
	// are never echoed: 30 s becomes at most 16 min.
	maxStrikes = 5
)

// routeLag is how long a message sent by UDP may stay unechoed before the
// peer gets messages by TCP: the peer stages a view (with its echo) at
// least once per view interval and sends it within a send gap.
func routeLag(viewInterval time.Duration) time.Duration {
	return viewInterval + 2*sendGap
}

// routeHold is how long a peer whose echo lagged gets messages by TCP.
func routeHold(viewInterval time.Duration) time.Duration {
	return max(udpHoldMin, 10*viewInterval)
}

// route is the choice of transport for one peer (one sender goroutine).
type route struct {
	pending  []sentAt  // our messages sent by UDP and not yet echoed, oldest first
	tcpUntil time.Time // every message goes by TCP until then
	strikes  int       // holds since a packet was last echoed
}

// sentAt is one message sent by UDP.
type sentAt struct {
	seq uint64
	at  time.Time
}

// ack notes the peer's echo (a sequence of our incarnation; 0 for none):
// the messages up to it need no more watching. An echo of a pending
// message proves a packet got through (a stream's delivery empties the
// pending list, so nothing after them went by TCP).
func (r *route) ack(echo uint64) {
	i := 0
	for i < len(r.pending) && r.pending[i].seq <= echo {
		i++
	}
	if i > 0 {
		r.strikes = 0
	}
	r.pending = r.pending[i:]
}

// overdue reports whether a message sent by UDP is unechoed past lag at
// now (then the next message goes by TCP).
func (r *route) overdue(now time.Time, lag time.Duration) bool {
	return len(r.pending) > 0 && now.Sub(r.pending[0].at) >= lag
}

// due returns when the oldest unechoed UDP message becomes overdue; zero
// when none is pending.
func (r *route) due(lag time.Duration) time.Time {
	if len(r.pending) == 0 {
		return time.Time{}
	}
	return r.pending[0].at.Add(lag)
}

// pick returns the transport for a sealed message of size bytes at now,
// given the peer's echo. Each hold after another with no packet echoed in
// between is twice as long, up to maxStrikes doublings: a path that drops
// every packet costs a lag once per hold, and ever more rarely.
func (r *route) pick(now time.Time, size int, echo uint64, lag, hold time.Duration) transport {
	r.ack(echo)
	if r.overdue(now, lag) {
		r.tcpUntil, r.pending = now.Add(hold<<min(r.strikes, maxStrikes)), nil
		r.strikes++
	}
	if size > maxUDPMessage || now.Before(r.tcpUntil) {
		return viaTCP
	}
	return viaUDP
}

// sent notes that message seq went out by t at now. A message a stream
// delivered carries every change before it: nothing sent by UDP before it
// is pending any more.
func (r *route) sent(t transport, seq uint64, now time.Time) {
	if t == viaTCP {
		r.pending = nil
		return
	}
	r.pending = append(r.pending, sentAt{seq, now})
}
