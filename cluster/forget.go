package cluster

import (
	"time"

	"github.com/goavail/goavail/monitor"
)

// forgetStale keeps the quorate round's time and, once this agent has
// been without a quorum for longer than StaleAfter, forgets every agreed
// state. An agent cut off from the quorum cannot know what the quorum
// agreed since; if it later becomes the writer (the others gone, a heal),
// acting on its old agreement would write what no min_peers_agree+1
// agents saw lately. Forgotten, an address is Unknown until a quorum
// agrees on it again, and DNS leaves its records as they are.
func (a *Agreement) forgetStale(now time.Time, quorate bool) {
	switch {
	case quorate:
		a.quorateAt = now
	case len(a.agreed) > 0 && now.Sub(a.quorateAt) > a.rules.StaleAfter:
		for addr := range a.agreed {
			a.agreed[addr] = monitor.Unknown
		}
	}
}
