package cluster

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"

	"github.com/hashicorp/memberlist"
)

// delegate is the Cluster as memberlist's Delegate. Its methods never
// block: messages are copied to the inbox, or dropped and counted when it
// is full.
type delegate Cluster

func (d *delegate) NodeMeta(int) []byte { return nil }

func (d *delegate) NotifyMsg(b []byte) {
	c := (*Cluster)(d)
	select {
	case c.inbox <- slices.Clone(b):
	default:
		c.drop(DropOverload, errOverload, c.cfg.Now())
	}
}

func (d *delegate) GetBroadcasts(int, int) [][]byte { return nil }
func (d *delegate) LocalState(bool) []byte          { return nil }
func (d *delegate) MergeRemoteState([]byte, bool)   {}

var errOverload = overloadError{}

type overloadError struct{}

func (overloadError) Error() string { return "inbox full: views arrive faster than they are checked" }

// events is the Cluster as memberlist's EventDelegate. It keeps a copy of
// every live member, taken inside the callback: memberlist calls it under
// its own lock, while the nodes Members returns are shared with memberlist
// and change under a reader. Any change asks for a broadcast and a new
// agreement round.
type events Cluster

func (e *events) NotifyJoin(n *memberlist.Node)   { e.setMember(n, true) }
func (e *events) NotifyUpdate(n *memberlist.Node) { e.setMember(n, true) }
func (e *events) NotifyLeave(n *memberlist.Node)  { e.setMember(n, false) }

// NotifyConflict is memberlist telling that a node name is claimed from
// a second address (this agent's own name included).
func (e *events) NotifyConflict(existing, other *memberlist.Node) {
	(*Cluster)(e).noteConflict(existing.Name, existing.Address(), other.Address())
}

func (e *events) setMember(n *memberlist.Node, alive bool) {
	e.mu.Lock()
	if alive {
		e.members[n.Name] = memberlist.Node{Name: n.Name, Addr: slices.Clone(n.Addr), Port: n.Port}
	} else {
		delete(e.members, n.Name)
	}
	e.mu.Unlock()
	if alive {
		(*Cluster)(e).noteAddr(n)
	}
	signal(e.poke)
}

// logWriter sends memberlist's log lines ("[LEVEL] memberlist: ...") to
// slog at the matching level. Packets memberlist cannot decrypt (a peer
// with the wrong key) are counted as wrong_key drops and logged at the
// same limited rate as the cluster's own drops.
type logWriter struct{ c *Cluster }

func (w logWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	if i := bytes.Index(line, []byte("[")); i >= 0 {
		line = line[i:]
	}
	level := slog.LevelDebug
	switch {
	case bytes.HasPrefix(line, []byte("[ERR]")):
		level = slog.LevelError
	case bytes.HasPrefix(line, []byte("[WARN]")):
		level = slog.LevelWarn
	case bytes.HasPrefix(line, []byte("[INFO]")):
		level = slog.LevelInfo
	}
	if end := bytes.IndexByte(line, ']'); end >= 0 {
		line = bytes.TrimSpace(line[end+1:])
	}
	if level >= slog.LevelWarn && bytes.Contains(line, []byte("decrypt")) {
		w.c.drop(DropWrongKey, errors.New(string(line)), w.c.cfg.Now())
		return len(p), nil
	}
	w.c.cfg.Log.Log(context.Background(), level, string(line), "component", "memberlist")
	return len(p), nil
}

func splitHostPort(s string) (string, string, error) { return net.SplitHostPort(s) }
