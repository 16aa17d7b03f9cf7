package dns

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestMemory_FileRoundTripAndBadFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	m, err := LoadMemory(path)
	if !errors.Is(err, ErrNoState) || m == nil {
		t.Fatalf("first start: %v", err)
	}
	rec := Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 300, Comment: "hand-made", Tags: []string{"team:web"}}
	if err := m.Remember("example.com", []Record{rec}); err != nil {
		t.Fatal(err)
	}
	again, err := LoadMemory(path)
	if err != nil {
		t.Fatal(err)
	}
	got := again.Restore("example.com", []Record{{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60, Comment: "managed by goavail"}})
	if got[0].TTL != 60 || got[0].Proxied || got[0].Comment != "hand-made" || !slices.Equal(got[0].Tags, []string{"team:web"}) {
		t.Errorf("restored after reload: %+v, want the configured ttl 60, not proxied, the remembered comment and tags", got[0])
	}
	if other := again.Restore("example.net", []Record{{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60, Comment: "c"}}); other[0].Comment != "c" {
		t.Error("a record of another zone was restored from memory")
	}
	if err := again.Forget("example.com", got); err != nil {
		t.Fatal(err)
	}
	third, err := LoadMemory(path)
	if err != nil {
		t.Fatal(err)
	}
	if third.Len() != 0 {
		t.Errorf("forgotten record still in the file")
	}
	if leftovers, _ := filepath.Glob(path + ".tmp*"); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	for name, content := range map[string]string{
		"corrupt":     "{not json",
		"old version": `{"version": 9, "records": []}`,
		"no content":  `{"version": 1, "records": [{"zone": "example.com", "name": "www.example.com", "type": "A"}]}`,
	} {
		os.WriteFile(path, []byte(content), 0o600)
		m, err := LoadMemory(path)
		if err == nil || errors.Is(err, ErrNoState) || m == nil || m.Len() != 0 {
			t.Errorf("%s state file: %v, %d records", name, err, m.Len())
		}
	}
}

func TestMemory_ExportMerge(t *testing.T) {
	writer, err := LoadMemory("")
	if err != nil {
		t.Fatal(err)
	}
	rec := Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 300, Comment: "hand-made", Tags: []string{"team:web"}}
	if err := writer.Remember("example.com", []Record{rec}); err != nil {
		t.Fatal(err)
	}
	b, err := writer.Export()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.json")
	other, err := LoadMemory(path)
	if !errors.Is(err, ErrNoState) {
		t.Fatal(err)
	}
	if err := other.Remember("example.com", []Record{{Name: "old.example.com", Type: "A", Content: "192.0.2.7"}}); err != nil {
		t.Fatal(err)
	}
	if err := other.Merge(b); err != nil {
		t.Fatal(err)
	}
	create := []Record{{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60, Comment: "managed by goavail"}}
	if w, o := writer.Restore("example.com", create), other.Restore("example.com", create); !slices.EqualFunc(w, o, sameRecord) || o[0].Comment != "hand-made" {
		t.Errorf("after import: %+v, the writer restores %+v", o, w)
	}
	if other.Len() != 2 {
		t.Errorf("the merge kept %d records, want its own and the writer's", other.Len())
	}
	saved, err := LoadMemory(path)
	if err != nil || saved.Len() != 2 {
		t.Errorf("the merged memory was not saved: %v, %d records", err, saved.Len())
	}
	for _, bad := range []string{"", "{", `{"version": 7}`, `{"version":1,"records":[{"zone":"z"}]}`, `{"version":1,"records":[],"forgotten":[{"zone":"z"}]}`} {
		if err := other.Merge([]byte(bad)); err == nil || other.Len() != 2 {
			t.Errorf("import of %q: %v, %d records", bad, err, other.Len())
		}
	}
}

// FuzzImportMemory feeds arbitrary shared memories to Merge: it never
// panics, a refused one changes nothing, and an accepted one exports and
// merges into an empty memory again to the same records.
func FuzzImportMemory(f *testing.F) {
	f.Add([]byte(`{"version":1,"records":[{"zone":"example.com","name":"www.example.com","type":"A","content":"192.0.2.1","ttl":300,"proxied":false,"comment":"c","tags":["a:b"]}]}`))
	f.Add([]byte(`{"version":1,"records":[]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"version":1,"records":[{"zone":"keep.example","name":"k.keep.example","type":"A","content":"192.0.2.9","removed_at":"2026-01-01T00:00:00Z"}],"forgotten":[{"zone":"keep.example","name":"k.keep.example","type":"A","content":"192.0.2.9","at":"2027-01-01T00:00:00Z"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _ := LoadMemory("")
		if err := m.Remember("keep.example", []Record{{Name: "k.keep.example", Type: "A", Content: "192.0.2.9"}}); err != nil {
			t.Fatal(err)
		}
		if err := m.Merge(b); err != nil {
			if m.Len() != 1 {
				t.Fatalf("a refused import changed the memory: %d records", m.Len())
			}
			return
		}
		out, err := m.Export()
		if err != nil {
			t.Fatal(err)
		}
		again, _ := LoadMemory("")
		if err := again.Merge(out); err != nil || again.Len() != m.Len() {
			t.Fatalf("an accepted memory does not survive export: %v, %d records, want %d", err, again.Len(), m.Len())
		}
	})
}

// FuzzLoadMemory feeds arbitrary state files to LoadMemory: it never
// panics, always returns a usable Memory, and a file it accepts saves and
// loads again to the same records.
func FuzzLoadMemory(f *testing.F) {
	f.Add([]byte(`{"version": 1, "records": [{"zone": "example.com", "name": "www.example.com", "type": "A", "content": "192.0.2.1", "ttl": 300, "comment": "c", "tags": ["a:b"]}]}`))
	f.Add([]byte(`{"version": 1, "records": []}`))
	f.Add([]byte(`{"version": 2}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "state.json")
		os.WriteFile(path, b, 0o600)
		m, err := LoadMemory(path)
		if m == nil {
			t.Fatal("LoadMemory returned no Memory")
		}
		if err != nil {
			if m.Len() != 0 {
				t.Fatalf("a refused file left %d records", m.Len())
			}
			return
		}
		n := m.Len()
		m.Remember("zz.example", []Record{{Name: "x.zz.example", Type: "A", Content: "192.0.2.9"}})
		m.Forget("zz.example", []Record{{Name: "x.zz.example", Type: "A", Content: "192.0.2.9"}})
		again, err := LoadMemory(path)
		if err != nil || again.Len() != n {
			t.Fatalf("an accepted file does not survive a save: %v, %d records, want %d", err, again.Len(), n)
		}
	})
}

// TestMemory_RestoreKeepsAHandProxiedRecordProxied: proxied is configured
// OR remembered; a proxied record's ttl is automatic.
func TestMemory_RestoreKeepsAHandProxiedRecordProxied(t *testing.T) {
	m, _ := LoadMemory("")
	hand := Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 1, Proxied: true, Comment: "origin"}
	plain := Record{Name: "www.example.com", Type: "A", Content: "192.0.2.2", TTL: 300}
	if err := m.Remember("example.com", []Record{hand, plain}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		content string
		proxied bool // configured
		want    bool
		wantTTL int
	}{
		{"192.0.2.1", false, true, 1},   // proxied by hand: stays proxied
		{"192.0.2.2", true, true, 1},    // proxied by the config now
		{"192.0.2.2", false, false, 60}, // neither
	} {
		got := m.Restore("example.com", []Record{{Name: "www.example.com", Type: "A", Content: tc.content, TTL: 60, Proxied: tc.proxied}})[0]
		if got.Proxied != tc.want || got.TTL != tc.wantTTL {
			t.Errorf("%s configured proxied=%v: restored proxied=%v ttl=%d, want proxied=%v ttl=%d", tc.content, tc.proxied, got.Proxied, got.TTL, tc.want, tc.wantTTL)
		}
	}
}

// TestReconciler_UnsetTTLKeepsTheRecordsOwn: a group that sets no ttl
// (0) restores a record with the ttl it had (300, set by hand), and
// creates a record it never removed with DefaultTTL; a group that sets one
// restores with it.
func TestReconciler_UnsetTTLKeepsTheRecordsOwn(t *testing.T) {
	for _, tc := range []struct {
		ttl       int
		want, new int
	}{{0, 300, DefaultTTL}, {120, 120, 120}} {
		hand := rec("1", "www.example.com", "A", "192.0.2.1")
		hand.TTL = 300
		p := &memProvider{records: []Record{hand}}
		h := &health{h: Health{ip1: false, ip2: false}}
		r := NewReconciler(ReconcilerConfig{Provider: p, Health: h.get, Log: discard()})
		g := small
		g.TTL = tc.ttl
		r.SetGroups([]Group{g}, time.Minute)
		h.set(ip2, true)
		r.Pass(context.Background()) // 192.0.2.2 created; 192.0.2.1's removal waits for it (make before break)
		r.Pass(context.Background()) // 192.0.2.1 removed
		h.set(ip1, true)
		r.Pass(context.Background()) // 192.0.2.1 restored
		got := map[string]int{}
		for _, x := range p.records {
			got[x.Content] = x.TTL
		}
		if got["192.0.2.1"] != tc.want || got["192.0.2.2"] != tc.new {
			t.Errorf("configured ttl %d: restored with %d (want %d), created with %d (want %d)", tc.ttl, got["192.0.2.1"], tc.want, got["192.0.2.2"], tc.new)
		}
	}
}
