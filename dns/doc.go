// Package dns keeps DNS records in step with address health.
//
// Plan is the pure decision: given the records a zone has, the groups goavail
// manages in it and which addresses are up, it returns the records to create
// and delete, never touching a record it does not manage and never taking a
// hostname's last record (fail-open). Reconciler runs Plan against a Provider
// on every change and every period (level-triggered), and Cloudflare is the
// Provider on the Cloudflare v4 API.
package dns
