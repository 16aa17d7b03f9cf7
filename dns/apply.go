package dns

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// change is one record to create or delete.
type change struct {
	action string
	rec    Record
}

// applied is what apply made of a zone's changes.
type applied struct {
	created, deleted []Record
	failed           []FailedChange
	blocked          []Record
	fresh            []string  // keys of the changes newly quarantined
	at               time.Time // when the last successful batch was answered
}

// apply sends the changes in batches of at most BatchSize, creates first,
// so that if a later batch fails no hostname has fewer records than the
// plan leaves it. A batch the API refuses for what it contains (a
// RejectedError or StaleError) is split in two (its restores and its
// removals, else halves) and each part sent, until the change to blame is
// alone: a refused change is quarantined, a stale one (the record already
// exists, or is already gone) counts as made, and every other change of
// the zone is applied in the same pass. Splitting stops early when both
// halves are refused with their whole's content code (the set is
// quarantined together), and sends at most maxSplitRequests a pass.
// Removals are charged to the budget before they are sent, and refunded
// only when the API definitely did not apply them: only the charges the
// refused send made, never those of an earlier send whose answer was
// lost; a removal found already gone (stale) keeps its charge. A
// transient error ends the zone's pass: the changes not yet made are
// returned as failed, with the error.
//
// With a zone fence (zf, see zonefence.go) every batch is conditional on
// it and moves it on; a batch refused for a moved fence ends the zone's
// pass with a *FenceMovedError, its removals refunded (nothing of it was
// applied), so that the zone is listed and planned again.
func (r *Reconciler) apply(ctx context.Context, zone string, creates, deletes, actual []Record, zf *ZoneFence) (applied, error) {
	var res applied
	left := serving(actual) // A/AAAA records of each name, as the batches go
	pending := map[string]int{}
	var all []change
	for _, c := range creates {
		all = append(all, change{ActionCreate, c})
		pending[c.Name]++
	}
	for _, d := range deletes {
		all = append(all, change{ActionDelete, d})
	}
	size := r.batchSize(zone)
	if zf != nil {
		size = max(size-2, 1) // room for the fence's delete and post
	}
	var queue []batch
	for len(all) > 0 {
		n := min(len(all), size)
		queue, all = append(queue, batch{changes: all[:n]}), all[n:]
	}
	splits := 0 // split requests sent this pass: see maxSplitRequests
	// answered notes a batch's answer (see batch.done), and quarantines a
	// pair whose halves were both refused for their whole's content code.
	answered := func(item batch, held []change) {
		var whole, again []change
		queue, whole, again = item.done(queue, held)
		for _, c := range again { // in play again: see the hold below
			if c.action == ActionCreate {
				pending[c.rec.Name]++
			}
		}
		if whole != nil {
			p := item.pair
			r.cfg.Log.Warn("dns batch refused for one reason: both its halves were refused alike, so its changes are quarantined together rather than split further",
				"zone", zone, "changes", len(whole), "code", p.code, "message", p.msg)
			r.quarantineAll(zone, whole, p.code, p.msg, false, true, pending, left, &res)
		}
	}
	for len(queue) > 0 {
		item := queue[0]
		queue = queue[1:]
		b := item.changes
		// Never send a removal that, with the restores that failed or were
		// quarantined so far, would leave its name empty.
		b = slices.DeleteFunc(b, func(c change) bool {
			if c.action != ActionDelete {
				return false
			}
			if left[c.rec.Name]+pending[c.rec.Name] > 1 {
				left[c.rec.Name]--
				return false
			}
			res.blocked = append(res.blocked, c.rec)
			r.logChange(zone, ActionDelete, c.rec, "blocked", errors.New("its name's restore was not made: removing it would leave the name with no record"))
			return true
		})
		if len(b) == 0 {
			answered(item, nil)
			continue
		}
		if item.pair != nil {
			if splits >= maxSplitRequests {
				// The pass's split budget is spent: what is not narrowed
				// down yet waits in the quarantine, with the code its
				// batch was refused with.
				r.quarantineAll(zone, b, item.pair.code, fmt.Sprintf("%s (not narrowed down: this pass already sent %d split requests)", item.pair.msg, maxSplitRequests), true, true, pending, left, &res)
				answered(item, nil)
				continue
			}
			splits++
		}
		// The last check, before every batch, that this agent may still
		// write (fence.go). ids are the charges this send made: only
		// those are refunded when the API definitely refuses it. A
		// removal charged by an earlier send whose answer was lost keeps
		// its charge, even when a retry is refused (81044: it is gone,
		// maybe by that send).
		r.mu.Lock()
		ids := r.budget.charge(r.cfg.Now(), deleteIDs(b))
		r.mu.Unlock()
		bctx, bcancel, err := r.fenceBatch(ctx)
		if err == nil {
			err = r.send(bctx, zone, b, zf)
			defer bcancel()
			ctx = bctx // the next batch chains on this fence
		} else {
			r.refund(ids) // not sent
		}
		var rej *RejectedError
		var stale *StaleError
		var moved *FenceMovedError
		switch {
		case errors.As(err, &moved):
			r.refund(ids) // the whole batch was refused
			for _, bb := range append([]batch{{changes: b, pair: item.pair}}, queue...) {
				for _, c := range bb.all() {
					res.failed = append(res.failed, FailedChange{Action: c.action, Record: c.rec, Err: "not sent: " + err.Error()})
				}
			}
			return res, err
		case err == nil:
			res.at = r.cfg.Now()
			for _, c := range b {
				r.made(zone, c, &res, pending, left, "applied", nil)
			}
			answered(item, nil)
			continue
		case errors.As(err, &rej) && rej.TooLarge && len(b) > 1:
			// Refused for its size alone: nothing of it was applied. Make
			// this zone's batches smaller and send them again; this is
			// not a search for a bad change (no split pair, no budget).
			r.refund(ids)
			for _, c := range b {
				if c.action == ActionDelete {
					left[c.rec.Name]++ // guarded again when sent
				}
			}
			n := len(b) / 2
			if rej.Limit > 0 && rej.Limit < len(b) {
				n = rej.Limit
			}
			r.capBatch(zone, len(b), n)
			if zf != nil {
				n = max(n-2, 1) // room for the fence's delete and post
			}
			queue = rechunk(append([]batch{{changes: b}}, queue...), n)
			answered(item, nil)
			continue
		case errors.As(err, &rej) || errors.As(err, &stale):
			if len(b) > 1 || rej != nil {
				r.refund(ids) // refused whole; the halves are charged again
			}
			if len(b) > 1 {
				for _, c := range b { // the halves are guarded again
					if c.action == ActionDelete {
						left[c.rec.Name]++
					}
				}
				if rej != nil && rej.Content && item.pair != nil && item.pair.code == rej.Code && !r.retryingSet(zone, b) {
					// Refused for the same content as its whole: split it
					// only if its sibling is not refused for it too. A
					// set's retry is split all the way (within the
					// budget), so that a good change refused with bad
					// ones is found in the end. Meanwhile its restores
					// are not counted on by the removal guard.
					for _, c := range b {
						if c.action == ActionCreate {
							pending[c.rec.Name]--
						}
					}
					answered(item, b)
					continue
				}
				queue = append(splitBatch(b, rej), queue...)
				answered(item, nil)
				continue
			}
			c := b[0]
			if stale != nil {
				res.at = r.cfg.Now()
				r.made(zone, c, &res, pending, left, "applied", fmt.Errorf("already in effect (code %d)", stale.Code))
				answered(item, nil)
				continue
			}
			r.quarantineAll(zone, b, rej.Code, rej.Message, true, false, pending, left, &res)
			answered(item, nil)
			continue
		}
		// Transient, or not about the changes: this zone waits for the
		// next pass (the Reconciler backs off).
		if Unsent(err) {
			r.refund(ids)
		}
		for _, bb := range append([]batch{{changes: b, pair: item.pair}}, queue...) {
			for _, c := range bb.all() {
				res.failed = append(res.failed, FailedChange{Action: c.action, Record: c.rec, Err: err.Error()})
				r.logChange(zone, c.action, c.rec, "failed", err)
			}
		}
		return res, err
	}
	return res, nil
}

// maxSplitRequests bounds the requests one zone's pass spends splitting
// refused batches: finding a few bad changes among 200 takes about 2 × k ×
// log2(200/k) requests (28 for two), and a whole batch refused for one
// reason costs 3 (the batch, then both halves refused alike). Past it, the
// changes not yet narrowed down are quarantined with their batch's code and
// retried on the quarantine's timer, so that a zone of many bad changes
// cannot spend the token's budget (1,200 requests per 5 minutes) and hold
// the removals behind a 429.
const maxSplitRequests = 32

// batch is one batch of changes, and, for a half of a refused batch, the
// pair it belongs to.
type batch struct {
	changes []change
	pair    *splitPair
}

// splitPair is the two halves of a batch refused with a RejectedError.
// When both are refused with the same content code as their whole, every
// change is taken to carry it: the halves are quarantined, not split again.
type splitPair struct {
	code    int64
	content bool
	msg     string
	left    int        // halves not yet answered
	held    [][]change // halves refused with code, waiting for their sibling
}

// all is every change of the batch, with the halves its pair holds.
func (b batch) all() []change {
	out := slices.Clone(b.changes)
	if b.pair != nil {
		for _, h := range b.pair.held {
			out = append(out, h...)
		}
	}
	return out
}

// splitBatch splits a refused batch in two: its restores and its removals
// when it holds both (a removal is seldom what Cloudflare refuses, so the
// removals land at the next request, however many bad restores there
// are), else in halves.
func splitBatch(b []change, rej *RejectedError) []batch {
	p := &splitPair{left: 2}
	if rej != nil {
		p.code, p.content, p.msg = rej.Code, rej.Content, rej.Message
	}
	cut := len(b) / 2
	if i := slices.IndexFunc(b, func(c change) bool { return c.action == ActionDelete }); i > 0 && !slices.ContainsFunc(b[i:], func(c change) bool { return c.action == ActionCreate }) {
		cut = i
	}
	return []batch{{changes: b[:cut], pair: p}, {changes: b[cut:], pair: p}}
}

// done notes that a batch was answered; held is set when it was a half
// refused with its whole's content code. When both halves of a pair are
// answered, a single held half is split after all (and returned as
// again); two held halves are returned (whole), for the caller to
// quarantine. It returns the queue.
func (b batch) done(queue []batch, held []change) (_ []batch, whole, again []change) {
	p := b.pair
	if p == nil {
		return queue, nil, nil
	}
	if held != nil {
		p.held = append(p.held, held)
	}
	p.left--
	if p.left > 0 {
		return queue, nil, nil
	}
	h := p.held
	p.held = nil
	switch len(h) {
	case 1:
		rej := &RejectedError{Code: p.code, Content: p.content, Message: p.msg}
		return append(splitBatch(h[0], rej), queue...), nil, h[0]
	case 2:
		return queue, append(slices.Clone(h[0]), h[1]...), nil
	}
	return queue, nil, nil
}

// retryingSet reports whether a batch retries changes quarantined as a set.
func (r *Reconciler) retryingSet(zone string, b []change) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.quar.anySet(zone, b)
}

// quarantineAll quarantines changes the API refuses with code. guarded
// says whether the removal guard still counts them (a half held for its
// sibling was given back already); set, that they were not narrowed down
// one by one (see Quarantined.Set).
func (r *Reconciler) quarantineAll(zone string, b []change, code int64, msg string, guarded, set bool, pending, left map[string]int, res *applied) {
	for _, c := range b {
		if guarded {
			r.undo(c, pending, left)
		}
		r.mu.Lock()
		q, fresh := r.quar.add(r.cfg.Now(), zone, c.action, c.rec, code, msg, set)
		r.mu.Unlock()
		if fresh {
			res.fresh = append(res.fresh, q.key())
			r.cfg.Log.Warn("dns change quarantined: the DNS provider refuses it; the zone's other changes go on, and it is retried slowly",
				"zone", zone, "action", c.action, "name", c.rec.Name, "type", c.rec.Type, "content", c.rec.Content,
				"result", "quarantined", "code", q.Code, "message", q.Message, "retry_at", q.NextTry.Round(time.Second))
		}
	}
}

// made records a change as made.
func (r *Reconciler) made(zone string, c change, res *applied, pending, left map[string]int, result string, note error) {
	if c.action == ActionCreate {
		res.created = append(res.created, c.rec)
		pending[c.rec.Name]--
		left[c.rec.Name]++
	} else {
		res.deleted = append(res.deleted, c.rec)
	}
	r.mu.Lock()
	r.quar.release(zone, c.action, c.rec)
	r.mu.Unlock()
	r.logChange(zone, c.action, c.rec, result, note)
}

// undo gives back what the removal guard counted for a change not made.
func (r *Reconciler) undo(c change, pending, left map[string]int) {
	if c.action == ActionCreate {
		pending[c.rec.Name]--
	} else {
		left[c.rec.Name]++
	}
}

func (r *Reconciler) refund(ids []string) {
	if len(ids) == 0 {
		return
	}
	r.mu.Lock()
	r.budget.refund(ids)
	r.mu.Unlock()
}

func deleteIDs(b []change) []string {
	var ids []string
	for _, c := range b {
		if c.action == ActionDelete {
			ids = append(ids, c.rec.ID)
		}
	}
	return ids
}

// send makes one batch request: conditional on the zone fence zf when
// there is one, which then moves on to the fence the batch left.
func (r *Reconciler) send(ctx context.Context, zone string, b []change, zf *ZoneFence) error {
	var cs, ds []Record
	for _, c := range b {
		if c.action == ActionCreate {
			cs = append(cs, c.rec)
		} else {
			ds = append(ds, c.rec)
		}
	}
	if d := testPauseBeforeSend(); d > 0 { // test-only: see testhooks.go
		r.cfg.Log.Warn("test hook: pausing after the last lease check, before the send", "pause", d)
		time.Sleep(d)
	}
	if zf == nil {
		return r.cfg.Provider.Apply(ctx, zone, cs, ds)
	}
	next, err := r.cfg.Provider.(Fencer).ApplyFenced(ctx, zone, *zf, r.stamp(), cs, ds)
	var moved *FenceMovedError
	if err == nil || zf.Genesis.ID == "" && next.Genesis.ID != "" && !errors.As(err, &moved) {
		// A provider that makes a fresh zone's fence in a request of its
		// own (Cloudflare) made it even when the changes were refused:
		// the next batch of the pass chains on that fence, not on none
		// (which would be refused as moved and cost a listing).
		*zf = next
	}
	return err
}

// stamp is the fence stamp of a write sent now.
func (r *Reconciler) stamp() FenceStamp {
	s := FenceStamp{Deployment: "goavail", Writer: "goavail"}
	if r.cfg.Stamp != nil {
		s = r.cfg.Stamp()
	}
	s.At = r.cfg.Now()
	return s
}

// transientIn reports whether a joined error holds an error that is not
// permanent.
func transientIn(err error) bool {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var perm *PermanentError
		if !errors.As(e, &perm) {
			return true
		}
	}
	return false
}
