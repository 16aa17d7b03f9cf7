// Package monitor watches addresses with health checks (ICMP echo, TCP,
// HTTP, HTTPS) and decides, per address, whether it is up, down or not yet
// known.
//
// Checker runs the TCP and HTTP(S) checks the same way, one Prober per kind
// (tcp.go, http.go), and Health runs one Machine per check of an address
// and combines them (Combine: all or any) into the address's state; the
// ICMP Engine feeds it too. Neither Machine nor Health knows the kinds.
//
// Engine is the I/O edge: one socket per address family, one scheduler that
// spreads the probes evenly over the interval, one reader that matches
// replies. Machine is the pure fall/rise state machine each address runs,
// fed with probe results and their timestamps, and Tracker holds one Machine
// per address behind a lock.
package monitor
