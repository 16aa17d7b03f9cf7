// Package cfemu is an in-process emulator of the parts of the Cloudflare v4
// API that goavail uses: zones by name (with status and account filters),
// and DNS records list (with type, name and content filters and real
// pagination), get, create, delete and batch (deletes, patches, puts and
// posts in one transaction, with the plan's size limit). It checks
// credentials (more tokens, each with a label, from AddToken), validates
// records as Cloudflare does (CNAME conflicts included), answers in
// Cloudflare's envelope with its error codes, and can be told to fail for
// tests: 429 with Retry-After (seconds, milliseconds or an HTTP date), 5xx
// (as JSON or as the edge's HTML), a request held in transit (then
// committed even if its client has gone, as the real API would), or a
// request applied whose answer is lost. Its journal (journal.go) records
// every listing and every commit with the zone's version. It also serves
// its zones over DNS (see ServeDNS) with a propagation delay.
package cfemu
