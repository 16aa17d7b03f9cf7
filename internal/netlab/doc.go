// Package netlab builds throw-away test hosts in network namespaces, on a
// bridge in the root namespace, with addresses from 198.18.0.0/15 (IPv4) and
// 2001:2::/48 (IPv6). Before any host exists it installs unreachable routes
// for both ranges, so a probe to a vanished test host can never leave the
// machine; they are shared between test processes through a reference count.
package netlab
