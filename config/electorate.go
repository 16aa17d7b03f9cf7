package config

import (
	"fmt"
	"net"
	"strconv"
)

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
