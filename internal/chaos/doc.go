// Package chaos checks the history of a fault-injection run against the
// cluster's safety and liveness invariants. The run (cmd/goavail's chaos
// test) records every API request with its sender and the zone after it,
// every writer-lease fence and every probe-state transition from the
// agents' own logs, and when each fault healed; Check says which
// invariant, if any, the history breaks. CheckJournal (journal.go) trusts
// no agent: it reads only the emulator's journal of listings and commits,
// and catches a write that lands on a zone changed since its listing (a
// late or stale write), whatever the agents believed about their leases.
package chaos
