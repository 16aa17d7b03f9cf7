package chaos

import "slices"

// CheckSetJournal is CheckJournal for a zone written through Route 53's
// change batches (h.Journal from r53emu.Ops: one record per value, its id
// naming the set and the value). (f) no stale write, (b) fail-open, (g)
// the fence chain (a stamp is a value of the fence TXT set, unique) and
// (e) liveness carry over as they are. (h) does not apply and is skipped:
// it compares the TTL, proxied flag, comment and tags a removal
// remembers, and a Route 53 value has none of its own: a restored value
// takes its set's TTL (one per set, whatever the value's was), and sets
// have no proxy, comments or tags.
func CheckSetJournal(h History) []Violation {
	var out []Violation
	out = append(out, checkStale(h)...)
	out = append(out, checkFailOpen(h)...)
	out = append(out, checkFenceChain(h)...)
	out = append(out, checkLiveness(h)...)
	slices.SortStableFunc(out, func(a, b Violation) int { return a.At.Compare(b.At) })
	return out
}
