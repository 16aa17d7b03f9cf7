package history

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// QueueLength is how many events may wait for the writer; past it new
// events are dropped and counted (Recorder.Dropped).
const QueueLength = 4096

// maxBatch bounds the events one transaction writes.
const maxBatch = 1024

// Recorder takes events from any goroutine without blocking and writes
// them to a Store from one goroutine (Run), a batch per transaction.
type Recorder struct {
	store   Store
	ch      chan Event
	dropped atomic.Uint64
	failed  atomic.Uint64
	log     *slog.Logger

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// NewRecorder writes to store; queue is the queue's length (QueueLength
// when <= 0).
func NewRecorder(store Store, queue int, log *slog.Logger) *Recorder {
	if queue <= 0 {
		queue = QueueLength
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recorder{store: store, ch: make(chan Event, queue), log: log, stop: make(chan struct{}), done: make(chan struct{})}
}

// Record queues e, or drops and counts it when the queue is full. It
// never blocks. A nil Recorder records nothing.
func (r *Recorder) Record(e Event) {
	if r == nil {
		return
	}
	select {
	case r.ch <- e:
	default:
		r.dropped.Add(1)
	}
}

// Dropped counts the events dropped because the queue was full.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Failed counts the events lost because the store failed to write them.
func (r *Recorder) Failed() uint64 { return r.failed.Load() }

// Query reads the store (what is queued is not there yet).
func (r *Recorder) Query(f Filter) ([]Event, error) { return r.store.Query(f) }

// Run writes queued events until ctx ends or Close is called, then writes
// what is still queued and closes the store.
func (r *Recorder) Run(ctx context.Context) error {
	defer close(r.done)
	defer r.store.Close()
	batch := make([]Event, 0, maxBatch)
	for {
		select {
		case e := <-r.ch:
			batch = r.fill(append(batch[:0], e))
			r.write(batch)
		case <-ctx.Done():
			r.flush(batch)
			return nil
		case <-r.stop:
			r.flush(batch)
			return nil
		}
	}
}

// fill adds what is queued now, up to maxBatch.
func (r *Recorder) fill(batch []Event) []Event {
	for len(batch) < maxBatch {
		select {
		case e := <-r.ch:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

func (r *Recorder) flush(batch []Event) {
	for {
		batch = r.fill(batch[:0])
		if len(batch) == 0 {
			return
		}
		r.write(batch)
	}
}

func (r *Recorder) write(batch []Event) {
	if err := r.store.Append(batch); err != nil {
		if r.failed.Add(uint64(len(batch))) == uint64(len(batch)) || r.failed.Load()%1000 < uint64(len(batch)) {
			r.log.Warn("could not record events in the history", "events", len(batch), "err", err)
		}
	}
}

// Close makes Run write what is queued and return, and waits for it.
func (r *Recorder) Close() {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
}
