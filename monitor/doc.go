// Package monitor watches addresses with health checks (ICMP echo, TCP,
// HTTP, HTTPS) and decides, per address, whether it is up, down or not yet
// known.
//
// Engine is the ICMP I/O edge: one socket per address family, one scheduler
// that spreads the probes evenly over the interval, one reader that matches
// replies. Checker runs the TCP and HTTP(S) checks with the same spreading,
// one Prober per kind (tcp.go, http.go), each probe on a goroutine that
// lives only as long as the probe. Machine is the pure fall/rise state
// machine, fed with probe results and their timestamps. Health runs one
// Machine per check of an address and combines them (Combine: all or any)
// into the address's state; it knows no check kind. ICMPOnly and
// ObserveICMP give the original goavail's ICMP-only watch.
package monitor
