package cluster

import (
	"testing"
	"time"
)

// TestAgreement_ForgetsAfterStaleAfterWithoutQuorum: an agent without a
// quorum for longer than view_stale_after forgets its agreed states, so a
// writer never acts on an agreement the cluster may have reversed while it
// was cut off. Three agents a, b, c; need 2.
//
//	t=0    ipA down for all: every agreement says Down (a removes it).
//	t=1    b is cut off from a and c (cluster links only); alone it is not
//	       quorate and its agreement stays Down.
//	t=30   ipA is back: a and c see it up and agree Up; a restores it. b's
//	       own path to ipA is broken, so b still sees it Down.
//	t=60   a is killed; b<->c heals. b (Down) and c (Up): neither reaches 2,
//	       so neither agreement changes.
//	       b is the lowest name: b and c make b the writer. b forgot its
//	       t=0 agreement at t=30 (alone for more than 10s), so ipA is
//	       Unknown to it and its records are left as they are, rather than
//	       removed on one sight (b's own) against the latest agreement (Up).
func TestAgreement_ForgetsAfterStaleAfterWithoutQuorum(t *testing.T) {
	r := Rules{MinPeersAgree: 1, StaleAfter: 10 * time.Second}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	pv := func(name string, s int, v PeerView) PeerView {
		v.Node, v.Alive, v.Received = name, true, at(s)
		return v
	}
	b, c := NewAgreement(r), NewAgreement(r)
	down, up := st(D, U, U), st(U, U, U)

	// t=0: everyone sees ipA down.
	b.Decide(at(0), PeerView{Node: "b", States: down}, []PeerView{pv("a", 0, PeerView{States: down}), pv("c", 0, PeerView{States: down})})
	c.Decide(at(0), PeerView{Node: "c", States: down}, []PeerView{pv("a", 0, PeerView{States: down}), pv("b", 0, PeerView{States: down})})

	// t=30: b alone (a, c dead to it); a and c agree Up.
	if d := b.Decide(at(30), PeerView{Node: "b", States: down}, nil); d.Quorate {
		t.Fatal("b alone should not be quorate")
	}
	if d := c.Decide(at(30), PeerView{Node: "c", States: up}, []PeerView{pv("a", 30, PeerView{States: up})}); d.States[ipA] != U {
		t.Fatalf("c: want ipA Up, got %v", d.States[ipA])
	}

	// t=60: a gone; b and c see each other again.
	db := b.Decide(at(60), PeerView{Node: "b", States: down}, []PeerView{pv("c", 60, PeerView{States: up})})
	dc := c.Decide(at(60), PeerView{Node: "c", States: up}, []PeerView{pv("b", 60, PeerView{States: down})})
	t.Logf("b: quorate=%v writer=%s ipA=%v; c: writer=%s ipA=%v", db.Quorate, db.Writer, db.States[ipA], dc.Writer, dc.States[ipA])
	if db.Quorate && db.Writer == "b" && dc.Writer == "b" && db.States[ipA] == D {
		t.Fatalf("the writer b removes ipA at t=60 on its t=0 agreement: only b saw it down since t=1, and the cluster last agreed Up (c says %v)", dc.States[ipA])
	}
	if db.States[ipA] != X {
		t.Errorf("b, back from more than view_stale_after without a quorum, should have forgotten ipA (Unknown), got %v", db.States[ipA])
	}
}
