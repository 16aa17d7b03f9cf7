package dns

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Memory remembers the exact attributes (ttl, proxied, comment, tags) of
// records goavail removes, so that restoring one recreates it as it was,
// not with the configured defaults. It lives in memory and, when it has a
// path, in a small JSON file rewritten atomically (temporary file, fsync,
// rename) after every change, so it survives a restart. It is safe for
// concurrent use.
type Memory struct {
	path string

	mu      sync.Mutex
	records map[memKey]Record
}

type memKey struct{ zone, name, typ, content string }

// stateFile is the file's format.
type stateFile struct {
	Version int         `json:"version"`
	Records []memRecord `json:"records"`
}

type memRecord struct {
	Zone    string   `json:"zone"`
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Content string   `json:"content"`
	TTL     int      `json:"ttl"`
	Proxied bool     `json:"proxied"`
	Comment string   `json:"comment"`
	Tags    []string `json:"tags"`
}

const stateVersion = 1

// ErrNoState means the state file does not exist yet: a first start.
var ErrNoState = errors.New("no state file yet")

// LoadMemory reads the state file at path ("" keeps the memory in this
// process only). The Memory is always usable: on ErrNoState or a corrupt
// or unreadable file it starts empty, the error says why, and removed
// records are then restored with the configured values.
func LoadMemory(path string) (*Memory, error) {
	m := &Memory{path: path, records: map[memKey]Record{}}
	if path == "" {
		return m, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, ErrNoState
	}
	if err != nil {
		return m, fmt.Errorf("read state file: %w", err)
	}
	recs, err := parseState(b)
	if err != nil {
		return m, fmt.Errorf("state file %s: %w", path, err)
	}
	m.records = recs
	return m, nil
}

// parseState reads the state file's format.
func parseState(b []byte) (map[memKey]Record, error) {
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("corrupt: %w", err)
	}
	if f.Version != stateVersion {
		return nil, fmt.Errorf("version %d; this goavail reads version %d", f.Version, stateVersion)
	}
	out := make(map[memKey]Record, len(f.Records))
	for _, r := range f.Records {
		if r.Zone == "" || r.Name == "" || r.Type == "" || r.Content == "" {
			return nil, errors.New("corrupt: a record lacks its zone, name, type or content")
		}
		out[memKey{r.Zone, r.Name, r.Type, r.Content}] = Record{Name: r.Name, Type: r.Type, Content: r.Content, TTL: r.TTL, Proxied: r.Proxied, Comment: r.Comment, Tags: r.Tags}
	}
	return out, nil
}

// Remember stores the attributes of records about to be removed from zone
// and saves the file. On a save error the memory still holds them.
func (m *Memory) Remember(zone string, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		m.records[memKey{zone, r.Name, r.Type, r.Content}] = r
	}
	return m.saveLocked()
}

// DefaultTTL is the ttl of a record created for a group that sets none,
// when goavail never removed it (so it has no ttl of its own to keep).
const DefaultTTL = 60

// Restore returns creates with each remembered record's comment and tags
// put back. Its ttl is the configured one when set (not 0), else the
// record's own, else DefaultTTL. Proxied is what the config says OR what the record was: a
// record the operator proxied by hand comes back proxied (never
// grey-clouded, which would expose the origin), and a record removed while
// unproxied comes back proxied when the config asks for it now. A proxied
// record's ttl is automatic (1).
func (m *Memory) Restore(zone string, creates []Record) []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(creates)
	for i, c := range out {
		if r, ok := m.records[memKey{zone, c.Name, c.Type, c.Content}]; ok {
			out[i].Comment, out[i].Tags = r.Comment, slices.Clone(r.Tags)
			out[i].Proxied = c.Proxied || r.Proxied
			if out[i].TTL == 0 {
				out[i].TTL = r.TTL
			}
		}
		if out[i].TTL == 0 {
			out[i].TTL = DefaultTTL
		}
		if out[i].Proxied {
			out[i].TTL = 1
		}
	}
	return out
}

// Export returns the memory in the state file's format, to share with the
// other agents (the writer's memory rides in its sealed view).
func (m *Memory) Export() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return json.Marshal(m.fileLocked())
}

// Import replaces the memory with one Export made (by the writer), and
// saves the file, so that this agent, if it becomes the writer, restores
// exactly what the previous one removed. A malformed b changes nothing.
func (m *Memory) Import(b []byte) error {
	recs, err := parseState(b)
	if err != nil {
		return fmt.Errorf("shared memory of removed records: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if maps.EqualFunc(recs, m.records, sameRecord) {
		return nil
	}
	m.records = recs
	return m.saveLocked()
}

// Forget drops records that exist again, and saves the file.
func (m *Memory) Forget(zone string, recs []Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.records)
	for _, r := range recs {
		delete(m.records, memKey{zone, r.Name, r.Type, r.Content})
	}
	if len(m.records) == n {
		return nil
	}
	return m.saveLocked()
}

// Len is how many records are remembered.
func (m *Memory) Len() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.records) }

func (m *Memory) saveLocked() error {
	if m.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(m.fileLocked(), "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(m.path, b)
}

func (m *Memory) fileLocked() stateFile {
	f := stateFile{Version: stateVersion, Records: []memRecord{}}
	for k, r := range m.records {
		f.Records = append(f.Records, memRecord{k.zone, r.Name, r.Type, r.Content, r.TTL, r.Proxied, r.Comment, r.Tags})
	}
	slices.SortFunc(f.Records, func(a, b memRecord) int {
		return cmpStrings(a.Zone+"\x00"+a.Name+"\x00"+a.Type+"\x00"+a.Content, b.Zone+"\x00"+b.Name+"\x00"+b.Type+"\x00"+b.Content)
	})
	return f
}

func cmpStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// writeAtomic replaces path with b so that a crash leaves either the old
// file or the new one, never a torn one.
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write state file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	if d, err := os.Open(dir); err == nil { // make the rename itself durable
		d.Sync()
		d.Close()
	}
	return nil
}

func sameRecord(a, b Record) bool {
	return a.Name == b.Name && a.Type == b.Type && a.Content == b.Content && a.TTL == b.TTL &&
		a.Proxied == b.Proxied && a.Comment == b.Comment && slices.Equal(a.Tags, b.Tags)
}
