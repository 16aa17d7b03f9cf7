// Package cluster lets several goavail agents agree before DNS changes.
// Each agent gossips its whole view of the watched addresses over
// hashicorp/memberlist, sealed by package crypto; the pure agreement rule
// (agree.go) turns the local view and the peers' fresh views into the
// states DNS acts on, and picks the one agent that writes.
package cluster
