// Package dns keeps DNS records in step with address health. It is the
// provider-neutral core: it knows no DNS provider, only the Provider
// interface that each provider package (dns/cloudflare) implements.
//
// Plan is the pure decision: given the records a zone has, the groups goavail
// manages in it and which addresses are up, it returns the records to create
// and delete, never touching a record it does not manage and never taking a
// hostname's last record (fail-open). Reconciler runs Plan against a Provider
// on every change and every period (level-triggered).
//
// The Reconciler makes the changes get through: a batch refused for what it
// holds is split until the change to blame is alone, and that change is
// quarantined; transient failures are retried at a pace derived from the
// API's request budget, and a Retry-After is honoured exactly, on an
// injectable Clock. The core acts only on error classes (errors.go:
// RetryAfterError, PermanentError, RejectedError, StaleError, ZoneError, or
// transient); each provider maps its own codes into them. Memory keeps the
// removed records' comment and tags for an exact restore, and can be shared
// between agents (Export, Merge). PropagationChecker then follows each
// change on the zone's nameservers, reading DNS only.
package dns
