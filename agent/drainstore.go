package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// DrainEntry is the latest word on one address: drained or not, when, by
// whom and why, and which agent took the command. Agents exchange their
// entries and keep the newest per address (last writer wins), so a drain
// or an undrain sent to any agent reaches every agent; an undrain is an
// entry with Drained false, kept so that an older drain cannot come back.
type DrainEntry struct {
	Addr    netip.Addr `json:"address"`
	Drained bool       `json:"drained"`
	At      time.Time  `json:"at"`
	By      string     `json:"by,omitempty"`
	Reason  string     `json:"reason,omitempty"`
	Node    string     `json:"node,omitempty"`
	// Force: drained with --force, which may empty a hostname.
	Force bool `json:"force,omitempty"`
}

// newer reports whether e supersedes o: later first; at the same instant,
// the higher node name, then a drain over an undrain. Every agent orders
// two entries the same way, so all converge on one.
func (e DrainEntry) newer(o DrainEntry) bool {
	if !e.At.Equal(o.At) {
		return e.At.After(o.At)
	}
	if e.Node != o.Node {
		return e.Node > o.Node
	}
	return e.Drained && !o.Drained
}

// Limits on what a peer or the state file may hand us.
const (
	maxDrainEntries = 100_000
	maxDrainText    = 500 // bytes of By or Reason
)

// decodeDrains reads a list of entries (annex part or state file),
// strictly: unknown fields, bad addresses, oversized text and duplicate
// addresses are refused.
func decodeDrains(b []byte) ([]DrainEntry, error) {
	var out []DrainEntry
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&out); err != nil {
		return nil, fmt.Errorf("decode drains: %w", err)
	}
	if d.More() {
		return nil, errors.New("decode drains: data after the list")
	}
	if len(out) > maxDrainEntries {
		return nil, fmt.Errorf("decode drains: %d entries, at most %d", len(out), maxDrainEntries)
	}
	seen := make(map[netip.Addr]bool, len(out))
	for _, e := range out {
		switch {
		case !e.Addr.IsValid():
			return nil, errors.New("decode drains: an entry without an address")
		case seen[e.Addr]:
			return nil, fmt.Errorf("decode drains: %s listed twice", e.Addr)
		case len(e.By) > maxDrainText || len(e.Reason) > maxDrainText || len(e.Node) > maxDrainText:
			return nil, fmt.Errorf("decode drains: %s: text longer than %d bytes", e.Addr, maxDrainText)
		}
		seen[e.Addr] = true
	}
	return out, nil
}

// drainStore holds the drain entries, saved beside the state file.
type drainStore struct {
	path string // "" keeps them until a restart only

	mu      sync.Mutex
	entries map[netip.Addr]DrainEntry
}

// drainsPath is where drains are kept: beside the state file
// (state.json -> state.drains.json), so both live in the same directory
// with the same permissions. Empty: no state file, memory only.
func drainsPath(stateFile string) string {
	if stateFile == "" {
		return ""
	}
	return strings.TrimSuffix(stateFile, ".json") + ".drains.json"
}

// loadDrainStore reads path. A missing file is an empty store; an unusable
// one is reported, and the store starts empty (config drains still hold).
func loadDrainStore(path string) (*drainStore, error) {
	s := &drainStore{path: path, entries: map[netip.Addr]DrainEntry{}}
	if path == "" {
		return s, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read drains %s: %w", path, err)
	}
	list, err := decodeDrains(b)
	if err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	for _, e := range list {
		s.entries[e.Addr] = e
	}
	return s, nil
}

// put records e if it is newer than what the store has, and reports
// whether it was.
func (s *drainStore) put(e DrainEntry) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.entries[e.Addr]; ok && !e.newer(old) {
		return false
	}
	s.entries[e.Addr] = e
	return true
}

// merge records every entry newer than the store's and returns those.
func (s *drainStore) merge(list []DrainEntry) []DrainEntry {
	var learned []DrainEntry
	for _, e := range list {
		if s.put(e) {
			learned = append(learned, e)
		}
	}
	return learned
}

// get returns the entry for a, if any.
func (s *drainStore) get(a netip.Addr) (DrainEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[a]
	return e, ok
}

// list returns every entry, undrains included, sorted by address.
func (s *drainStore) list() []DrainEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DrainEntry, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b DrainEntry) int { return a.Addr.Compare(b.Addr) })
	return out
}

// retain forgets entries of addresses no longer configured.
func (s *drainStore) retain(addrs []netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for a := range s.entries {
		if !slices.Contains(addrs, a) {
			delete(s.entries, a)
		}
	}
}

// encode returns the entries as exchanged and saved.
func (s *drainStore) encode() []byte {
	b, _ := json.Marshal(s.list()) // plain fields: cannot fail
	return b
}

// save writes the store atomically: a temporary file in the same
// directory, fsync, rename, fsync of the directory.
func (s *drainStore) save() error {
	if s.path == "" {
		return nil
	}
	b := s.encode()
	dir := filepath.Dir(s.path)
	f, err := os.CreateTemp(dir, ".drains-*")
	if err != nil {
		return fmt.Errorf("save drains: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing left to remove
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		return fmt.Errorf("save drains %s: %w", s.path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
