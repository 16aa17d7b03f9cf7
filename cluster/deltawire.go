package cluster

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"

	"github.com/goavail/goavail/crypto"
	"github.com/goavail/goavail/monitor"
)

// applyDelta returns stored (sorted, whole) with changed (sorted) written
// over it and removed (sorted) taken out.
func applyDelta(stored, changed []monitor.Status, removed []netip.Addr) []monitor.Status {
	out := make([]monitor.Status, 0, len(stored)+len(changed))
	i, j, k := 0, 0, 0
	gone := func(a netip.Addr) bool {
		for k < len(removed) && removed[k].Less(a) {
			k++
		}
		return k < len(removed) && removed[k] == a
	}
	for i < len(stored) || j < len(changed) {
		switch {
		case j == len(changed) || (i < len(stored) && stored[i].Addr.Less(changed[j].Addr)):
			if !gone(stored[i].Addr) {
				out = append(out, stored[i])
			}
			i++
		case i == len(stored) || changed[j].Addr.Less(stored[i].Addr):
			out = append(out, changed[j])
			j++
		default:
			out = append(out, changed[j])
			i++
			j++
		}
	}
	return out
}

// receiveNote says why a message's entries were not applied.
func deltaBaseError(sender string, base uint64, held Echo) error {
	return fmt.Errorf("delta from %s on its view %d, this agent holds %d of incarnation %d: waiting for the next message on the older base", sender, base, held.Seq, held.Inc)
}

// appendRemoved encodes a delta's removed addresses (sorted, none among
// entries, none in a whole view).
func appendRemoved(b []byte, base uint64, entries []monitor.Status, removed []netip.Addr) ([]byte, error) {
	if base == 0 && len(removed) > 0 {
		return nil, fmt.Errorf("a whole view lists %d removed addresses", len(removed))
	}
	if len(removed) > maxEntries {
		return nil, fmt.Errorf("view removes %d addresses, more than %d", len(removed), maxEntries)
	}
	b = binary.AppendUvarint(b, uint64(len(removed)))
	j := 0
	for i, a := range removed {
		for j < len(entries) && entries[j].Addr.Less(a) {
			j++
		}
		if !a.IsValid() || (i > 0 && !removed[i-1].Less(a)) || (j < len(entries) && entries[j].Addr == a) {
			return nil, fmt.Errorf("view removed address %d: invalid, out of order, repeated or also changed: %v", i, a)
		}
		s := a.Unmap().AsSlice()
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	return b, nil
}

// removed decodes what appendRemoved encodes.
func (d *decoder) removed(base uint64, entries []monitor.Status) []netip.Addr {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	if base == 0 || n > maxEntries || n > uint64(len(d.b))/5 {
		d.fail("%d removed addresses in a view of base %d", n, base)
		return nil
	}
	out := make([]netip.Addr, 0, n)
	j := 0
	for i := uint64(0); i < n && d.err == nil; i++ {
		al := int(d.byte())
		if al != 4 && al != 16 {
			d.fail("removed %d: address of %d bytes", i, al)
			break
		}
		a, _ := netip.AddrFromSlice(d.bytes(al))
		if d.err != nil {
			break
		}
		for j < len(entries) && entries[j].Addr.Less(a) {
			j++
		}
		switch {
		case al == 16 && a.Is4In6():
			d.fail("removed %d: IPv4-mapped address %v", i, a)
		case i > 0 && !out[i-1].Less(a):
			d.fail("removed %d: address %v out of order", i, a)
		case j < len(entries) && entries[j].Addr == a:
			d.fail("removed %d: address %v is also changed", i, a)
		}
		out = append(out, a)
	}
	return out
}

// appendNamed encodes a map of positions by name, sorted by name: n |
// len(name)(1) | name | incarnation | sequence.
func appendNamed(b []byte, m map[string]Echo) ([]byte, error) {
	if len(m) > maxEchoes {
		return nil, fmt.Errorf("view has %d named positions, more than %d", len(m), maxEchoes)
	}
	names := slices.Sorted(maps.Keys(m))
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, n := range names {
		if len(n) == 0 || len(n) > 255 {
			return nil, fmt.Errorf("view name %q must be 1 to 255 bytes", n)
		}
		b = append(b, byte(len(n)))
		b = append(b, n...)
		b = binary.AppendUvarint(b, m[n].Inc)
		b = binary.AppendUvarint(b, m[n].Seq)
	}
	return b, nil
}

// named decodes what appendNamed encodes (nil for none).
func (d *decoder) named() map[string]Echo {
	n := d.uvarint()
	if d.err == nil && (n > maxEchoes || n > uint64(len(d.b))/3) {
		d.fail("%d named positions", n)
	}
	var out map[string]Echo
	prev := ""
	for i := uint64(0); i < n && d.err == nil; i++ {
		name := string(d.bytes(int(d.byte())))
		if d.err == nil && (name == "" || (i > 0 && name <= prev)) {
			d.fail("position %d: empty or out-of-order name %q", i, name)
		}
		e := Echo{Inc: d.uvarint(), Seq: d.uvarint()}
		if d.err == nil {
			if out == nil {
				out = make(map[string]Echo, n)
			}
			out[name] = e
		}
		prev = name
	}
	return out
}

// compressedView marks a payload whose rest is a view encoding compressed
// with DEFLATE: the changes of a mass event, and whole views, shrink
// several times.
const compressedView = 0x80 | viewVersion

// compress returns payload compressed when that makes it shorter.
func (l *deltaLog) compress(payload []byte) []byte {
	if len(payload) < 64 {
		return payload
	}
	var buf bytes.Buffer
	buf.Grow(len(payload)/2 + 16)
	buf.WriteByte(compressedView)
	w, _ := l.writers.Get().(*flate.Writer)
	if w == nil {
		w, _ = flate.NewWriter(&buf, flate.BestSpeed)
	} else {
		w.Reset(&buf)
	}
	defer l.writers.Put(w)
	if _, err := w.Write(payload); err != nil || w.Close() != nil || buf.Len() >= len(payload) {
		return payload
	}
	return buf.Bytes()
}

// decodePayload decodes a message's payload: a view, compressed or not.
// A compressed view may not expand past crypto.MaxMessage bytes.
func decodePayload(b []byte) (View, error) {
	if len(b) == 0 || b[0] != compressedView {
		return DecodeView(b)
	}
	r := flate.NewReader(bytes.NewReader(b[1:]))
	defer r.Close()
	plain, err := io.ReadAll(io.LimitReader(r, crypto.MaxMessage+1))
	switch {
	case err != nil:
		return View{}, fmt.Errorf("%w: compressed: %w", ErrView, err)
	case len(plain) > crypto.MaxMessage:
		return View{}, fmt.Errorf("%w: expands past %d bytes", ErrView, crypto.MaxMessage)
	case len(plain) > 0 && plain[0] == compressedView:
		return View{}, fmt.Errorf("%w: compressed twice", ErrView)
	}
	return DecodeView(plain)
}

// annexKeptFlag is the view flag for AnnexKept: 2, or 4 (invalid) when a
// view that is not a delta, or sends an annex, says so.
func annexKeptFlag(v View) byte {
	switch {
	case !v.AnnexKept:
		return 0
	case v.Base == 0 || len(v.Annex) > 0:
		return 4
	}
	return 2
}
