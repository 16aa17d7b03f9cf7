package history

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The store's bounds, unless Options say otherwise. 30 days covers a
// month of incident reviews. 64 MiB of encoded events (about 230 bytes
// each: some 290,000 events; bbolt's file takes up to about twice that, as
// freed pages are reused but never returned) keeps 30 days of any ordinary
// deployment, and still about 6.5 hours of a storm in which 100 of 10,000
// addresses flap once a minute (6.7 events a second, 230 MiB a day
// unbounded: BenchmarkStore_Flapping). It is small beside the disk of any
// host that runs an agent. The oldest events go first.
const (
	DefaultMaxAge   = 30 * 24 * time.Hour
	DefaultMaxBytes = 64 << 20
	// MemoryEvents is how many events are kept without a state file.
	MemoryEvents = 10000
)

// Store keeps events.
type Store interface {
	// Append stores a batch of events, in order.
	Append([]Event) error
	// Query returns the events f selects, oldest first.
	Query(Filter) ([]Event, error)
	Close() error
}

// Options bound a store.
type Options struct {
	MaxAge   time.Duration // 0: DefaultMaxAge
	MaxBytes int64         // 0: DefaultMaxBytes (the events' encoded size)
	// Timeout bounds the wait for the file's lock (another process has it
	// open): 0 waits one second.
	Timeout time.Duration
	Now     func() time.Time // time.Now when nil
	Log     *slog.Logger
}

func (o *Options) defaults() {
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

var bucket = []byte("events")

// ErrLocked means another process holds the store open for writing.
var ErrLocked = errors.New("the history file is held by another process (a running agent?)")

// Bolt is a Store in a bbolt file.
type Bolt struct {
	db   *bolt.DB
	o    Options
	mu   sync.Mutex // guards size and pruned
	size int64      // bytes of the stored events' values
	last time.Time  // of the last prune by age
}

// Open opens (or creates) the store at path for writing. A file that
// bbolt cannot open, or whose consistency check fails, is renamed to
// path.corrupt-<time> with a warning, and a new store begins: the agent
// never stops over its history. ErrLocked is returned when another
// process holds the file.
func Open(path string, o Options) (*Bolt, error) {
	o.defaults()
	db, err := openChecked(path, o.Timeout)
	if errors.Is(err, ErrLocked) {
		return nil, err
	}
	if err != nil {
		aside := fmt.Sprintf("%s.corrupt-%s", path, o.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("history file %s is unusable (%w) and could not be set aside: %w", path, err, rerr)
		}
		o.Log.Warn("history file unusable: set aside, starting a new history", "path", path, "moved_to", aside, "err", err)
		if db, err = openChecked(path, o.Timeout); err != nil {
			return nil, fmt.Errorf("history file %s: %w", path, err)
		}
	}
	s := &Bolt{db: db, o: o}
	err = db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucket); b != nil {
			return b.ForEach(func(_, v []byte) error { s.size += int64(len(v)); return nil })
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("history file %s: %w", path, err)
	}
	return s, nil
}

// openChecked opens path and runs bbolt's consistency check; a corrupt
// file may make bbolt panic, which is an error here.
func openChecked(path string, timeout time.Duration) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				db.Close()
			}
			db, err = nil, fmt.Errorf("corrupt: %v", r)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		var errs []error
		for cerr := range tx.Check() { // read it all: the checker sends until done
			errs = append(errs, cerr)
		}
		if len(errs) > 0 {
			return fmt.Errorf("consistency check: %w", errors.Join(errs...))
		}
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenReadOnly opens the store at path to read it, waiting at most
// timeout for a writer to let go of it (ErrLocked past that).
func OpenReadOnly(path string, timeout time.Duration) (*Bolt, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("history file: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("history file %s: %w", path, err)
	}
	o := Options{}
	o.defaults()
	return &Bolt{db: db, o: o}, nil
}

// key orders events by time, then by arrival.
func key(at time.Time, seq uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(at.UnixNano()))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

// SetBounds changes the bounds (0 keeps one); the next writes apply them.
func (s *Bolt) SetBounds(maxAge time.Duration, maxBytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if maxAge > 0 {
		s.o.MaxAge = maxAge
	}
	if maxBytes > 0 {
		s.o.MaxBytes = maxBytes
	}
	s.last = time.Time{} // prune by age at the next write
}

// Append stores events in one transaction and prunes past the bounds.
func (s *Bolt) Append(events []Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("history store: %v", r)
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.o.Now()
	var added int64
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		b.FillPercent = 0.9 // keys only grow: fill the pages
		for _, e := range events {
			v, err := json.Marshal(e)
			if err != nil {
				return err
			}
			seq, _ := b.NextSequence()
			if err := b.Put(key(e.At, seq), v); err != nil {
				return err
			}
			added += int64(len(v))
		}
		if now.Sub(s.last) >= time.Minute || s.size+added > s.o.MaxBytes {
			cut, err := s.prune(b, now.Add(-s.o.MaxAge), s.size+added)
			if err != nil {
				return err
			}
			added -= cut
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("history store: %w", err)
	}
	s.size += added
	if now.Sub(s.last) >= time.Minute {
		s.last = now
	}
	return nil
}

// prune deletes events older than before, and the oldest past the size
// bound down to 90 % of it, and returns the bytes freed.
func (s *Bolt) prune(b *bolt.Bucket, before time.Time, size int64) (int64, error) {
	var freed int64
	c := b.Cursor()
	limit := s.o.MaxBytes * 9 / 10
	over := size > s.o.MaxBytes
	for k, v := c.First(); k != nil; k, v = c.First() {
		old := int64(binary.BigEndian.Uint64(k)) < before.UnixNano()
		if !old && (!over || size-freed <= limit) {
			break
		}
		freed += int64(len(v))
		if err := c.Delete(); err != nil {
			return freed, err
		}
	}
	return freed, nil
}

// Query returns the events f selects, oldest first.
func (s *Bolt) Query(f Filter) (out []Event, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("history store: %v", r)
		}
	}()
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		// Newest first, from the end back to Since, until Limit: a page
		// of the newest events reads only those.
		c := b.Cursor()
		var start []byte
		if !f.Since.IsZero() {
			start = key(f.Since, 0)
		}
		n := f.limit()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			if start != nil && bytes.Compare(k, start) < 0 {
				break
			}
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				continue // skip one unreadable event, keep the rest
			}
			if f.Match(e) {
				out = append(out, e)
			}
		}
		slices.Reverse(out)
		return nil
	})
	return out, err
}

// Size is the stored events' encoded size in bytes.
func (s *Bolt) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Close closes the file.
func (s *Bolt) Close() error { return s.db.Close() }

// Memory is a Store in memory: the newest cap events.
type Memory struct {
	mu     sync.Mutex
	events []Event
	cap    int
}

// NewMemory keeps the newest n events (MemoryEvents when n <= 0).
func NewMemory(n int) *Memory {
	if n <= 0 {
		n = MemoryEvents
	}
	return &Memory{cap: n}
}

// Append keeps events, dropping the oldest past the bound.
func (m *Memory) Append(events []Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, events...)
	if over := len(m.events) - m.cap; over > 0 {
		m.events = append(m.events[:0:0], m.events[over:]...)
	}
	return nil
}

// Query returns the events f selects, oldest first.
func (m *Memory) Query(f Filter) ([]Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Event
	for _, e := range m.events {
		if !e.At.Before(f.Since) && f.Match(e) {
			out = append(out, e)
		}
	}
	if n := f.limit(); len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}

// Close does nothing.
func (m *Memory) Close() error { return nil }
