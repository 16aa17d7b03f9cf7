// Package cluster lets several goavail agents agree before DNS changes.
// Each agent gossips its view of the watched addresses over
// hashicorp/memberlist, sealed by package crypto, to each peer as the
// changes since what that peer holds (delta.go); the pure agreement rule
// (agree.go) turns the local view and the peers' fresh views into the
// states DNS acts on, and the writer lease (lease.go) lets at most one agent
// write at any moment: the one a majority endorses. members.go keeps the
// membership and name conflicts, gossip.go sends and checks views, and
// decide.go runs the rules and answers who writes.
package cluster
