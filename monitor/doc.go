// Package monitor watches addresses with ICMP echo and decides, per address,
// whether it is up, down or not yet known.
//
// Engine is the I/O edge: one socket per address family, one scheduler that
// spreads the probes evenly over the interval, one reader that matches
// replies. Machine is the pure fall/rise state machine each address runs,
// fed with probe results and their timestamps, and Tracker holds one Machine
// per address behind a lock.
package monitor
