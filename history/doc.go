// Package history keeps what an agent saw and did (health transitions
// with their evidence, agreement decisions, writer changes, every DNS
// change and its propagation, drains, reloads, starts and stops) so that
// after an incident an operator can tell what went down and when, who
// agreed, which DNS change was made, when resolvers saw it, and when it
// all came back, even across restarts.
//
// Events are stored in a bbolt file (go.etcd.io/bbolt, the store etcd
// uses) beside the agent's state file: every batch is one transaction,
// fsynced at commit, so a kill -9 loses only the batch being written (in
// practice the last event: events are rare, and a batch is whatever queued
// while the previous one was committed), and the file is always
// consistent. A file that cannot be opened or fails bbolt's consistency
// check is renamed aside (<file>.corrupt-<time>) and a new one started:
// the agent never stops over its history. With no state file, events are
// kept in memory only (the newest MemoryEvents).
//
// The store is bounded by age and size (DefaultMaxAge, DefaultMaxBytes):
// the oldest events go first. Writes never block the caller: Recorder.Record
// puts the event on a bounded queue that one goroutine drains, one
// transaction per batch; a full queue drops the event and counts it.
package history
