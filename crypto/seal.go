package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Errors Open returns. Each names a reason a message is dropped, so the
// caller can count them apart.
var (
	ErrTooLarge  = errors.New("message larger than the limit")
	ErrTruncated = errors.New("message too short to be sealed")
	ErrVersion   = errors.New("unknown message version")
	ErrAuth      = errors.New("message does not authenticate with any key (wrong key, or altered)")
	ErrMalformed = errors.New("sealed content is malformed")
)

// Wire format, version 1:
//
//	version(1) | nonce(12) | AES-GCM(plaintext, additional data = label+version) | tag(16)
//
// plaintext:
//
//	len(sender)(1) | sender | incarnation(8) | sequence(8) | unix nanos(8) | fingerprint(8) | payload
const (
	version1   = 1
	nonceSize  = 12
	tagSize    = 16
	fixedPlain = 1 + 8 + 8 + 8 + FingerprintSize
	// Overhead is what sealing adds to a payload, besides the sender name.
	Overhead = 1 + nonceSize + tagSize + fixedPlain
	// MaxMessage bounds a sealed message; bigger ones are refused unread.
	MaxMessage = 4 << 20
	// FingerprintSize is the length of a configuration fingerprint.
	FingerprintSize = 8
)

var label = []byte("goavail/view")

// Envelope is what a sealed message carries.
type Envelope struct {
	Sender      string                // the sending agent's node name
	Incarnation uint64                // grows with each start of the sender
	Seq         uint64                // grows with each message of one incarnation
	Time        time.Time             // when it was sealed, sender's clock
	Fingerprint [FingerprintSize]byte // of the sender's monitored set
	Payload     []byte
}

// Sealer seals with the first key and opens with any of them, so keys can
// be rotated: add the new key second everywhere, then move it first, then
// drop the old one.
type Sealer struct {
	aeads []cipher.AEAD
}

// NewSealer builds a Sealer from 16-, 24- or 32-byte AES keys.
func NewSealer(keys [][]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("no key given")
	}
	s := &Sealer{}
	for i, k := range keys {
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		s.aeads = append(s.aeads, gcm)
	}
	return s, nil
}

func additionalData() []byte { return append(append([]byte{}, label...), version1) }

// Seal encrypts and authenticates e with the first key and a fresh random
// nonce.
func (s *Sealer) Seal(e Envelope) ([]byte, error) {
	if len(e.Sender) == 0 || len(e.Sender) > 255 {
		return nil, fmt.Errorf("sender name %q must be 1 to 255 bytes", e.Sender)
	}
	plain := make([]byte, 0, fixedPlain+len(e.Sender)+len(e.Payload))
	plain = append(plain, byte(len(e.Sender)))
	plain = append(plain, e.Sender...)
	plain = binary.BigEndian.AppendUint64(plain, e.Incarnation)
	plain = binary.BigEndian.AppendUint64(plain, e.Seq)
	plain = binary.BigEndian.AppendUint64(plain, uint64(e.Time.UnixNano()))
	plain = append(plain, e.Fingerprint[:]...)
	plain = append(plain, e.Payload...)

	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plain)+tagSize)
	out[0] = version1
	rand.Read(out[1 : 1+nonceSize])
	out = s.aeads[0].Seal(out, out[1:1+nonceSize], plain, additionalData())
	if len(out) > MaxMessage {
		return nil, fmt.Errorf("sealed message is %d bytes: %w (%d)", len(out), ErrTooLarge, MaxMessage)
	}
	return out, nil
}

// Open checks and decrypts a message, trying every key. It never panics;
// any input that is not a message sealed with one of the keys gives an
// error that wraps one of the Err values above.
func (s *Sealer) Open(msg []byte) (Envelope, error) {
	switch {
	case len(msg) > MaxMessage:
		return Envelope{}, ErrTooLarge
	case len(msg) < 1+nonceSize+tagSize:
		return Envelope{}, ErrTruncated
	case msg[0] != version1:
		return Envelope{}, fmt.Errorf("%w %d", ErrVersion, msg[0])
	}
	nonce, sealed := msg[1:1+nonceSize], msg[1+nonceSize:]
	ad := additionalData()
	var plain []byte
	var err error
	for _, a := range s.aeads {
		if plain, err = a.Open(nil, nonce, sealed, ad); err == nil {
			break
		}
	}
	if err != nil {
		return Envelope{}, ErrAuth
	}
	if len(plain) < 1 || len(plain) < 1+int(plain[0])+fixedPlain-1 || plain[0] == 0 {
		return Envelope{}, ErrMalformed
	}
	n := int(plain[0])
	e := Envelope{Sender: string(plain[1 : 1+n])}
	p := plain[1+n:]
	e.Incarnation = binary.BigEndian.Uint64(p[0:8])
	e.Seq = binary.BigEndian.Uint64(p[8:16])
	e.Time = time.Unix(0, int64(binary.BigEndian.Uint64(p[16:24])))
	copy(e.Fingerprint[:], p[24:24+FingerprintSize])
	e.Payload = p[24+FingerprintSize:]
	return e, nil
}
