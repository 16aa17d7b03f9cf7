// Package rfc2136 is the dns.Provider for servers that take RFC 2136
// dynamic updates signed with TSIG (BIND, Knot, PowerDNS, Technitium),
// on github.com/miekg/dns.
//
// Reads query the zone's primary directly, over TCP and signed with the
// TSIG key, for the managed hostnames (given at construction:
// Options.Names) and the asked types; no zone transfer is needed. Every write is one UPDATE message, atomic
// at the server, and conditional: each RRset it changes must still be
// exactly as it was read ("RRset exists, value dependent", or "RRset does
// not exist", RFC 2136 §2.4), and so must the zone's fence TXT record
// that every write replaces. A refused prerequisite is a
// *dns.FenceMovedError: the core lists again and plans again.
// errors.go maps the server's answers into the core's error classes.
//
// wildcard.go tells an RRset a wildcard synthesized from one of its own
// after a refused prerequisite; cname.go refuses creations beside a
// CNAME, which a server would ignore; nameservers.go gives the propagation
// check the primary and the zone's NS set; check.go checks each zone at
// start (its SOA, signed).
package rfc2136
