package config

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// minLease is cluster.MinLease (config imports no cluster): the shortest
// view_stale_after, which is the writer lease's length, with which an agent
// can write: three view intervals and twice the lease's margin
// (max(length/10, 200ms)).
func minLease(viewInterval time.Duration) time.Duration {
	margin := func(l time.Duration) time.Duration { return max(l/10, 200*time.Millisecond) }
	for l := 3*viewInterval + 2*margin(0); ; l += viewInterval / 10 {
		if l >= 3*viewInterval+2*margin(l) {
			return l
		}
	}
}

// leaseReloadError refuses a reload that changes view_stale_after: it is
// the writer lease's length, fixed at the start because every agent's
// promises are measured with it, and it is in the fingerprint, so a
// reloaded value would let agents with different lease lengths count each
// other's endorsements.
func (m Members) leaseReloadError(running Members) error {
	if m.ViewStaleAfter == running.ViewStaleAfter {
		return nil
	}
	return fmt.Errorf("Members.view_stale_after = %s, but %s is in effect: it is also the writer lease's length, fixed for the life of the process; "+
		"to change it, restart the agents (each waits out the longer length after its restart)", m.ViewStaleAfter.D(), running.ViewStaleAfter.D())
}

// electorateErrors checks that each entry of peers stands for one other
// agent: the majority check counts len(peers)+1 agents, and only the agents
// at the listed addresses vote, so a repeated entry would make a majority
// of too few. (This agent's own address among its peers is not refused: the
// original goavail's one-host example lists 127.0.0.1 with another port.)
func (m Members) electorateErrors() []error {
	var errs []error
	seen := map[string]int{}
	for i, p := range m.Peers {
		key := p
		if _, _, err := net.SplitHostPort(p); err != nil {
			key = net.JoinHostPort(p, strconv.Itoa(m.MembersPort))
		}
		if j, dup := seen[key]; dup {
			errs = append(errs, fmt.Errorf("Members.peers[%d] = %q repeats peers[%d]: list each other agent once", i, p, j))
			continue
		}
		seen[key] = i
	}
	return errs
}
