package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// annex is what this agent shares with its peers beside its probe results,
// inside its sealed view (cluster.View.Annex). Each part is owned by one
// feature and kept opaque here, so each can change its own encoding:
//   - Removed: this agent's memory of the records removed (dns), which
//     every agent merges, so any next writer restores them exactly;
//   - Drains: the addresses an operator drained, with who, when and why.
type annex struct {
	Removed json.RawMessage `json:"removed,omitempty"`
	Drains  json.RawMessage `json:"drains,omitempty"`
}

// encode returns the annex as sent, or nil when it is empty.
func (a annex) encode() ([]byte, error) {
	if len(a.Removed) == 0 && len(a.Drains) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode view annex: %w", err)
	}
	return b, nil
}

// decodeAnnex reads a peer's annex. Unknown parts are refused, so two
// versions that disagree on its meaning say so instead of ignoring state.
func decodeAnnex(b []byte) (annex, error) {
	var a annex
	if len(b) == 0 {
		return a, nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&a); err != nil {
		return annex{}, fmt.Errorf("decode view annex: %w", err)
	}
	if d.More() {
		return annex{}, fmt.Errorf("decode view annex: data after the object")
	}
	return a, nil
}
