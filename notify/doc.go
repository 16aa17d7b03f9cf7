// Package notify tells the outside world about transitions, agreements and
// DNS changes: exec hooks in the style of keepalived's notify scripts (the
// event in environment variables, a timeout) and webhooks (generic JSON or
// a Slack-compatible body, retried with backoff). Delivery runs on its own
// goroutines behind a bounded queue, so it never blocks probing, agreement
// or reconciliation; when the queue is full, events are dropped and counted.
package notify
