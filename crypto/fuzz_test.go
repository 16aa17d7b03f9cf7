package crypto

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzOpen feeds arbitrary bytes, and mutations of real messages, to Open:
// it must never panic, must refuse anything it did not seal with a reason
// from this package, and a message it accepts must carry the fields a
// sender can produce.
func FuzzOpen(f *testing.F) {
	s, _ := NewSealer([][]byte{key('k')})
	good, _ := s.Seal(envelope())
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add(good[:Overhead])
	f.Fuzz(func(t *testing.T, msg []byte) {
		e, err := s.Open(msg)
		if err != nil {
			for _, known := range []error{ErrTooLarge, ErrTruncated, ErrVersion, ErrAuth, ErrMalformed} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("Open returned an unclassified error: %v", err)
		}
		if !bytes.Equal(msg, good) && len(e.Sender) == 0 {
			t.Fatalf("accepted a message with no sender: %x", msg)
		}
		if _, err := s.Seal(e); err != nil {
			t.Fatalf("an accepted envelope does not seal again: %v", err)
		}
	})
}
