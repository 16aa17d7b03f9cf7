// Package cloudflare is the dns.Provider on Cloudflare's v4 API, through
// cloudflare-go/v6: the zone lookup (cached, with the zone's nameservers for
// the propagation check), record listing, and atomic batch writes.
//
// errors.go maps every API answer (status, Cloudflare error codes,
// Retry-After) into the error classes the dns core acts on; the SDK's own
// retries are off, so the core alone decides when to try again.
package cloudflare
