package agent

import (
	"encoding/json"
	"sync"
)

// annexBox holds this agent's annex parts and publishes the whole annex
// (cluster.SetAnnex) whenever one part changes, so that each feature sets
// its own part without overwriting the others'.
type annexBox struct {
	publish func([]byte)

	mu sync.Mutex
	a  annex
}

// setDrains replaces the drains part.
func (b *annexBox) setDrains(raw json.RawMessage) { b.set(func(a *annex) { a.Drains = raw }) }

func (b *annexBox) set(f func(*annex)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(&b.a)
	enc, err := b.a.encode()
	if err != nil {
		return // json.RawMessage parts that are valid JSON always encode
	}
	if b.publish != nil {
		b.publish(enc)
	}
}
