package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/goavail/goavail/monitor"
)

// View is one agent's picture of every address it watches: the payload of
// the messages agents exchange.
type View struct {
	Entries []monitor.Status // sorted by address
	// Base, when not 0, makes the view a delta (see delta.go): Entries are
	// the entries that changed since the sender's view Base (of the same
	// incarnation) and Removed the addresses it no longer watches.
	Base    uint64
	Removed []netip.Addr // sorted; only in a delta, none in Entries
	// AnnexKept, only in a delta, says the annex is unchanged since Base
	// and not sent (Annex is empty).
	AnnexKept bool
	// Annex is opaque state the agent shares beside its probe results
	// (its memory of removed records, drains): cmd gives it
	// meaning, cluster only carries it. At most maxAnnex bytes.
	Annex []byte

	// Ready says the sender could write: its own agreement is quorate and
	// it neither abstains nor shares its name with another agent.
	Ready bool
	// Vote names the agent the sender endorses as writer ("" none), in
	// term Term (see Elector).
	Vote string
	Term uint64
	// Held is the term of the writer lease the sender held when it sent
	// the view; 0 when it held none.
	Held uint64
	// Echoes is, for each peer, the position of the latest view the sender
	// had from it: an endorsement counts from when the echoed view was sent.
	Echoes map[string]Echo
	// Refused is, for each peer, the position of its latest message whose
	// delta the sender could not apply (see delta.go).
	Refused map[string]Echo
}

// Failing counts the addresses that are not down but whose latest probes
// were lost: on their way down, if the agent's uplink is broken.
func (v View) Failing() int {
	n := 0
	for _, e := range v.Entries {
		if e.State != monitor.Down && e.Evidence.FailRun > 0 {
			n++
		}
	}
	return n
}

// States returns the view as a map from address to state.
func (v View) States() map[netip.Addr]monitor.State {
	out := make(map[netip.Addr]monitor.State, len(v.Entries))
	for _, e := range v.Entries {
		out[e.Addr] = e.State
	}
	return out
}

// Limits a decoded view must respect.
const (
	maxEntries   = 1 << 16
	maxRTTs      = 16
	maxErrorText = 255
	maxAnnex     = 1 << 20
	maxEchoes    = 1024
	viewVersion  = 4
)

// ErrView is wrapped by every DecodeView error.
var ErrView = errors.New("malformed view")

// Encoding, version 4 (integers are unsigned varints unless noted):
//
//	version(1 byte) | base | count | entries | n removed | removed addrs: len(1) | bytes |
//	len(annex) | annex |
//	flags(1 byte: 1 = ready, 2 = annex kept) | len(vote)(1) | vote | term | held |
//	n echoes | echoes, sorted by name: len(name)(1) | name | incarnation | sequence |
//	n refused | refused, as echoes
//	entry: addr len(1) | addr bytes(4 or 16) | state(1) | since unix nanos (signed) |
//	       n rtts | rtts in ns | probes | lost | lost in a row | len(last error) | last error
//
// The encoding is canonical: decoding and re-encoding gives the same bytes.

// MarshalBinary encodes the view, sorting its entries by address.
func (v View) MarshalBinary() ([]byte, error) {
	entries := slices.Clone(v.Entries)
	slices.SortFunc(entries, func(a, b monitor.Status) int { return a.Addr.Compare(b.Addr) })
	if len(entries) > maxEntries {
		return nil, fmt.Errorf("view has %d addresses, more than %d", len(entries), maxEntries)
	}
	b := []byte{viewVersion}
	b = binary.AppendUvarint(b, v.Base)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for i, e := range entries {
		if !e.Addr.IsValid() || (i > 0 && entries[i-1].Addr == e.Addr) {
			return nil, fmt.Errorf("view entry %d: invalid or repeated address %v", i, e.Addr)
		}
		a := e.Addr.Unmap().AsSlice()
		b = append(b, byte(len(a)))
		b = append(b, a...)
		b = append(b, byte(e.State))
		var since int64
		if !e.Since.IsZero() {
			since = e.Since.UnixNano()
		}
		b = binary.AppendVarint(b, since)
		rtts := e.Evidence.RTTs
		if len(rtts) > maxRTTs {
			rtts = rtts[len(rtts)-maxRTTs:]
		}
		b = binary.AppendUvarint(b, uint64(len(rtts)))
		for _, r := range rtts {
			b = binary.AppendUvarint(b, uint64(max(r, 0)))
		}
		b = binary.AppendUvarint(b, uint64(max(e.Evidence.Probes, 0)))
		b = binary.AppendUvarint(b, uint64(max(e.Evidence.Lost, 0)))
		b = binary.AppendUvarint(b, uint64(max(e.Evidence.FailRun, 0)))
		msg := e.Evidence.LastError
		if len(msg) > maxErrorText {
			msg = msg[:maxErrorText]
		}
		b = append(b, byte(len(msg)))
		b = append(b, msg...)
	}
	b, err := appendRemoved(b, v.Base, entries, v.Removed) // delta.go
	if err != nil {
		return nil, err
	}
	if len(v.Annex) > maxAnnex {
		return nil, fmt.Errorf("view annex is %d bytes, more than %d", len(v.Annex), maxAnnex)
	}
	b = binary.AppendUvarint(b, uint64(len(v.Annex)))
	b = append(b, v.Annex...)
	var flags byte
	if v.Ready {
		flags = 1
	}
	if flags |= annexKeptFlag(v); flags > 3 { // delta.go
		return nil, fmt.Errorf("view keeps its annex outside a delta, or sends one")
	}
	if len(v.Vote) > 255 || len(v.Echoes) > maxEchoes {
		return nil, fmt.Errorf("view vote %q or %d echoes out of bounds", v.Vote, len(v.Echoes))
	}
	b = append(b, flags, byte(len(v.Vote)))
	b = append(b, v.Vote...)
	b = binary.AppendUvarint(b, v.Term)
	b = binary.AppendUvarint(b, v.Held)
	names := slices.Sorted(maps.Keys(v.Echoes))
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, n := range names {
		if len(n) == 0 || len(n) > 255 {
			return nil, fmt.Errorf("view echo name %q must be 1 to 255 bytes", n)
		}
		b = append(b, byte(len(n)))
		b = append(b, n...)
		b = binary.AppendUvarint(b, v.Echoes[n].Inc)
		b = binary.AppendUvarint(b, v.Echoes[n].Seq)
	}
	return appendNamed(b, v.Refused) // delta.go
}

// DecodeView decodes a view. It never panics, refuses anything that is not
// the canonical encoding of a view, and allocates in proportion to its input.
func DecodeView(b []byte) (View, error) {
	d := decoder{b: b}
	if v := d.byte(); v != viewVersion {
		return View{}, fmt.Errorf("%w: version %d, want %d", ErrView, v, viewVersion)
	}
	base := d.uvarint()
	n := d.uvarint()
	if d.err != nil {
		return View{}, d.err
	}
	if n > maxEntries || n > uint64(len(d.b))/8 {
		return View{}, fmt.Errorf("%w: %d entries in %d bytes", ErrView, n, len(b))
	}
	v := View{Base: base, Entries: make([]monitor.Status, 0, n)}
	for i := uint64(0); i < n && d.err == nil; i++ {
		var e monitor.Status
		al := int(d.byte())
		if al != 4 && al != 16 {
			d.fail("entry %d: address of %d bytes", i, al)
			break
		}
		a, _ := netip.AddrFromSlice(d.bytes(al))
		if al == 16 && a.Is4In6() {
			d.fail("entry %d: IPv4-mapped address %v", i, a)
		}
		e.Addr = a
		st := monitor.State(d.byte())
		if st > monitor.Down {
			d.fail("entry %d: state %d", i, st)
		}
		e.State = st
		if since := d.varint(); since != 0 {
			e.Since = time.Unix(0, since)
		}
		nr := d.uvarint()
		if nr > maxRTTs {
			d.fail("entry %d: %d round-trip times", i, nr)
			break
		}
		for j := uint64(0); j < nr && d.err == nil; j++ {
			e.Evidence.RTTs = append(e.Evidence.RTTs, time.Duration(d.int63()))
		}
		e.Evidence.Probes = int(d.int63())
		e.Evidence.Lost = int(d.int63())
		e.Evidence.FailRun = int(d.int63())
		e.Evidence.LastError = string(d.bytes(int(d.byte())))
		if i > 0 && d.err == nil && v.Entries[i-1].Addr.Compare(e.Addr) >= 0 {
			d.fail("entry %d: address %v out of order", i, e.Addr)
		}
		v.Entries = append(v.Entries, e)
	}
	v.Removed = d.removed(base, v.Entries) // delta.go
	if an := d.uvarint(); d.err == nil {
		if an > maxAnnex {
			d.fail("annex of %d bytes", an)
		} else if an > 0 {
			v.Annex = slices.Clone(d.bytes(int(an)))
		}
	}
	switch flags := d.byte(); {
	case d.err != nil:
	case flags > 3 || (flags&2 != 0 && (v.Base == 0 || len(v.Annex) > 0)):
		d.fail("flags %#x", flags)
	default:
		v.Ready, v.AnnexKept = flags&1 != 0, flags&2 != 0
	}
	v.Vote = string(d.bytes(int(d.byte())))
	v.Term, v.Held = d.uvarint(), d.uvarint()
	ne := d.uvarint()
	if d.err == nil && (ne > maxEchoes || ne > uint64(len(d.b))/3) {
		d.fail("%d echoes", ne)
	}
	prev := ""
	for i := uint64(0); i < ne && d.err == nil; i++ {
		name := string(d.bytes(int(d.byte())))
		if d.err == nil && (name == "" || (i > 0 && name <= prev)) {
			d.fail("echo %d: empty or out-of-order name %q", i, name)
		}
		e := Echo{Inc: d.uvarint(), Seq: d.uvarint()}
		if d.err == nil {
			if v.Echoes == nil {
				v.Echoes = make(map[string]Echo, ne)
			}
			v.Echoes[name] = e
		}
		prev = name
	}
	v.Refused = d.named() // delta.go
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d bytes left over", len(d.b))
	}
	if d.err != nil {
		return View{}, d.err
	}
	return v, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrView, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil || len(d.b) < n {
		d.fail("truncated")
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	if n != len(binary.AppendUvarint(nil, x)) {
		d.fail("non-canonical varint")
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) int63() int64 {
	x := d.uvarint()
	if x > 1<<63-1 {
		d.fail("number out of range")
		return 0
	}
	return int64(x)
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	if n != len(binary.AppendVarint(nil, x)) {
		d.fail("non-canonical varint")
	}
	d.b = d.b[n:]
	return x
}
