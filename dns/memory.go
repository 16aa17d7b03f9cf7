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
	"time"
)

// Memory remembers the exact attributes (ttl, proxied, comment, tags) of
// records goavail removes, so that restoring one recreates it as it was,
// not with the configured defaults. It lives in memory and, when it has a
// path, in a small JSON file rewritten atomically (temporary file, fsync,
// rename) after every change, so it survives a restart. It is safe for
// concurrent use.
//
// In a cluster every agent shares its memory and merges the others' (see
// Merge): per record, the latest event wins, a removal (with the record's
// attributes) or a restore. A restore is kept as a tombstone for
// ForgetFor, so that it travels to the agents still holding the removal.
type Memory struct {
	path string
	// now is the clock that dates removals and restores.
	now func() time.Time

	mu        sync.Mutex
	records   map[memKey]memEntry
	forgotten map[memKey]time.Time // restores: when each record was made again
}

// ForgetFor is how long a restore's tombstone is kept: an agent cut off
// for longer may bring a forgotten removal back into the others' memory
// (harmless but for a comment and tags put back on a record goavail
// creates without having removed it).
const ForgetFor = 7 * 24 * time.Hour

type memKey struct{ zone, name, typ, content string }

// memEntry is a remembered removal: the record and when it was removed.
type memEntry struct {
	rec Record
	at  time.Time
}

// stateFile is the file's format.
type stateFile struct {
	Version   int            `json:"version"`
	Records   []memRecord    `json:"records"`
	Forgotten []memForgotten `json:"forgotten,omitempty"`
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
	// RemovedAt is when it was removed (zero in files of goavail before
	// memories merged: older than any event).
	RemovedAt time.Time `json:"removed_at,omitzero"`
}

// memForgotten is a restore's tombstone.
type memForgotten struct {
	Zone    string    `json:"zone"`
	Name    string    `json:"name"`
	Type    string    `json:"type"`
	Content string    `json:"content"`
	At      time.Time `json:"at"`
}

const stateVersion = 1

// ErrNoState means the state file does not exist yet: a first start.
var ErrNoState = errors.New("no state file yet")

// LoadMemory reads the state file at path ("" keeps the memory in this
// process only). The Memory is always usable: on ErrNoState or a corrupt
// or unreadable file it starts empty, the error says why, and removed
// records are then restored with the configured values.
func LoadMemory(path string) (*Memory, error) {
	m := &Memory{path: path, now: time.Now, records: map[memKey]memEntry{}, forgotten: map[memKey]time.Time{}}
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
	recs, gone, err := parseState(b)
	if err != nil {
		return m, fmt.Errorf("state file %s: %w", path, err)
	}
	m.records, m.forgotten = recs, gone
	return m, nil
}

// parseState reads the state file's format. A record both remembered and
// forgotten keeps the later of the two.
func parseState(b []byte) (map[memKey]memEntry, map[memKey]time.Time, error) {
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, nil, fmt.Errorf("corrupt: %w", err)
	}
	if f.Version != stateVersion {
		return nil, nil, fmt.Errorf("version %d; this goavail reads version %d", f.Version, stateVersion)
	}
	recs := make(map[memKey]memEntry, len(f.Records))
	for _, r := range f.Records {
		if r.Zone == "" || r.Name == "" || r.Type == "" || r.Content == "" {
			return nil, nil, errors.New("corrupt: a record lacks its zone, name, type or content")
		}
		k := memKey{r.Zone, r.Name, r.Type, r.Content}
		if e, ok := recs[k]; !ok || r.RemovedAt.After(e.at) {
			recs[k] = memEntry{Record{Name: r.Name, Type: r.Type, Content: r.Content, TTL: r.TTL, Proxied: r.Proxied, Comment: r.Comment, Tags: r.Tags}, r.RemovedAt}
		}
	}
	gone := make(map[memKey]time.Time, len(f.Forgotten))
	for _, g := range f.Forgotten {
		if g.Zone == "" || g.Name == "" || g.Type == "" || g.Content == "" {
			return nil, nil, errors.New("corrupt: a forgotten record lacks its zone, name, type or content")
		}
		k := memKey{g.Zone, g.Name, g.Type, g.Content}
		if at, ok := gone[k]; !ok || g.At.After(at) {
			gone[k] = g.At
		}
	}
	for k, at := range gone {
		if e, ok := recs[k]; ok {
			if e.at.After(at) {
				delete(gone, k)
			} else {
				delete(recs, k)
			}
		}
	}
	return recs, gone, nil
}

// Remember stores the attributes of records about to be removed from zone
// and saves the file. On a save error the memory still holds them.
func (m *Memory) Remember(zone string, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for _, r := range recs {
		k := memKey{zone, r.Name, r.Type, r.Content}
		m.records[k] = memEntry{r, now}
		delete(m.forgotten, k)
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
		if e, ok := m.records[memKey{zone, c.Name, c.Type, c.Content}]; ok {
			out[i].Comment, out[i].Tags = e.rec.Comment, slices.Clone(e.rec.Tags)
			out[i].Proxied = c.Proxied || e.rec.Proxied
			if out[i].TTL == 0 {
				out[i].TTL = e.rec.TTL
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

// Export returns the memory in the state file's format, tombstones
// included, to share with the other agents (it rides in the sealed view).
func (m *Memory) Export() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return json.Marshal(m.fileLocked())
}

// Merge folds another agent's memory (one Export made) into this one and
// saves the file, so that this agent, if it becomes the writer, restores
// exactly what any writer removed, across a partition and a hand-over
// too. Per record, the later event wins: a removal brings its attributes,
// a restore (a tombstone) drops them; on a tie this agent's stays. Events
// are dated by each agent's wall clock, so two events on one record less
// than the clocks' skew apart may be ordered wrongly (the cluster refuses
// skews over max_clock_skew). A malformed b changes nothing.
func (m *Memory) Merge(b []byte) error {
	recs, gone, err := parseState(b)
	if err != nil {
		return fmt.Errorf("shared memory of removed records: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := m.pruneLocked()
	for k, e := range recs {
		if m.latestLocked(k).Before(e.at) || !m.heldLocked(k) {
			if old, ok := m.records[k]; !ok || !sameRecord(old.rec, e.rec) || !old.at.Equal(e.at) {
				m.records[k] = e
				delete(m.forgotten, k)
				changed = true
			}
		}
	}
	horizon := m.now().Add(-ForgetFor)
	for k, at := range gone {
		if at.Before(horizon) || (m.heldLocked(k) && !m.latestLocked(k).Before(at)) {
			continue
		}
		delete(m.records, k)
		m.forgotten[k] = at
		changed = true
	}
	if !changed {
		return nil
	}
	return m.saveLocked()
}

// heldLocked says whether this memory has an event for k; latestLocked is
// its time. m.mu held.
func (m *Memory) heldLocked(k memKey) bool {
	_, rec := m.records[k]
	_, gone := m.forgotten[k]
	return rec || gone
}

func (m *Memory) latestLocked(k memKey) time.Time {
	if e, ok := m.records[k]; ok {
		return e.at
	}
	return m.forgotten[k]
}

// pruneLocked drops the tombstones older than ForgetFor. m.mu held.
func (m *Memory) pruneLocked() bool {
	horizon := m.now().Add(-ForgetFor)
	n := len(m.forgotten)
	maps.DeleteFunc(m.forgotten, func(_ memKey, at time.Time) bool { return at.Before(horizon) })
	return len(m.forgotten) != n
}

// Forget drops records that exist again, keeps a tombstone of each (so
// that the other agents drop them too, see Merge), and saves the file.
func (m *Memory) Forget(zone string, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.pruneLocked()
	for _, r := range recs {
		k := memKey{zone, r.Name, r.Type, r.Content}
		delete(m.records, k)
		m.forgotten[k] = now
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
	for k, e := range m.records {
		r := e.rec
		f.Records = append(f.Records, memRecord{k.zone, r.Name, r.Type, r.Content, r.TTL, r.Proxied, r.Comment, r.Tags, e.at})
	}
	slices.SortFunc(f.Records, func(a, b memRecord) int {
		return cmpStrings(a.Zone+"\x00"+a.Name+"\x00"+a.Type+"\x00"+a.Content, b.Zone+"\x00"+b.Name+"\x00"+b.Type+"\x00"+b.Content)
	})
	for k, at := range m.forgotten {
		f.Forgotten = append(f.Forgotten, memForgotten{k.zone, k.name, k.typ, k.content, at})
	}
	slices.SortFunc(f.Forgotten, func(a, b memForgotten) int {
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
