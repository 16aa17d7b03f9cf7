package agent

import (
	"log/slog"
	"sync"
	"testing"

	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/dns"
)

// annexLab is a set of agents' published annexes, as their peers receive them;
// cut peers see nothing of each other.
type annexLab struct {
	mu      sync.Mutex
	annexes map[string][]byte
	cut     bool
}

// peersOf is what agent self sees of the others.
type peersOf struct {
	lab  *annexLab
	self string
}

func (p peersOf) PeerViews() map[string]cluster.View {
	p.lab.mu.Lock()
	defer p.lab.mu.Unlock()
	out := map[string]cluster.View{}
	for name, a := range p.lab.annexes {
		if name != p.self && !p.lab.cut {
			out[name] = cluster.View{Annex: a}
		}
	}
	return out
}

func (l *annexLab) agent(t *testing.T, name string) (*sharedMemory, *dns.Memory) {
	mem, err := dns.LoadMemory("")
	if err != nil {
		t.Fatal(err)
	}
	box := &annexBox{publish: func(b []byte) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.annexes[name] = b
	}}
	return newSharedMemory(peersOf{l, name}, box, mem, slog.New(slog.DiscardHandler)), mem
}

// TestSharedMemory_SurvivesAPartitionAndAHandOver: A, the writer, removes
// r1 while cut off from B; B, writer on its side, removes r2. Once they
// hear each other again both restore both records exactly, and B's restore
// of r1 makes A forget r1 too. (Before, non-writers replaced their memory
// with the writer's, and the new writer never merged: r1 was lost on
// every agent.)
func TestSharedMemory_SurvivesAPartitionAndAHandOver(t *testing.T) {
	lab := &annexLab{annexes: map[string][]byte{}}
	sa, ma := lab.agent(t, "a")
	sb, mb := lab.agent(t, "b")
	r1 := dns.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", Comment: "hand-made", Tags: []string{"team:web"}}
	r2 := dns.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.2", Comment: "second"}
	comment := func(m *dns.Memory, r dns.Record) string {
		return m.Restore("example.com", []dns.Record{{Name: r.Name, Type: r.Type, Content: r.Content}})[0].Comment
	}
	lab.cut = true
	if err := ma.Remember("example.com", []dns.Record{r1}); err != nil {
		t.Fatal(err)
	}
	sa.sync()
	if err := mb.Remember("example.com", []dns.Record{r2}); err != nil {
		t.Fatal(err)
	}
	sb.sync()
	lab.cut = false
	for range 2 { // each hears the other, then what the other merged
		sa.sync()
		sb.sync()
	}
	for name, m := range map[string]*dns.Memory{"a": ma, "b": mb} {
		if comment(m, r1) != "hand-made" || comment(m, r2) != "second" {
			t.Errorf("agent %s restores r1 with %q and r2 with %q, want both as removed", name, comment(m, r1), comment(m, r2))
		}
	}
	if err := mb.Forget("example.com", []dns.Record{r1}); err != nil { // B restores r1
		t.Fatal(err)
	}
	sb.sync()
	sa.sync()
	if c := comment(ma, r1); c != "" || ma.Len() != 1 {
		t.Errorf("after B restored r1, A still remembers it (%q, %d records)", c, ma.Len())
	}
}
