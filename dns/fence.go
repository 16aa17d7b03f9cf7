package dns

import (
	"context"
	"fmt"
)

// The writer fence around a zone's pass. A zone is fenced before it is
// listed, and the listing, the plan and every batch run under a chain of
// fences from that one, each taken while the previous one's context (which
// ends when the lease it proved ends) still runs: a batch is never planned
// on a listing taken under an earlier lease (another writer may have
// changed the zone in between). The listing renews the chain while it
// lasts (listchain.go). Before each batch request the fence is asked
// again, and the batch goes only if this agent still holds the lease and
// the latest link has not ended (the lease was held without a break since
// the listing).

// ErrLeaseEnded is wrapped by a batch not sent because the writer lease
// proved before the zone was listed has ended: the next pass lists again.
var ErrLeaseEnded = fmt.Errorf("the writer lease under which the zone was listed has ended; not sent, the zone is listed again at the next pass")

// chainKey keys, in a fenced context, the context the fences are taken
// from: each new fence is taken from it, not from the fenced one, so that
// it may end later.
type chainKey struct{}

// fenceZone fences a zone's pass before it is listed, when this agent is
// about to write. It returns the context to list, plan and apply under,
// the fence's error (nil without a fence), and a cancel func.
func (r *Reconciler) fenceZone(ctx context.Context, mode string) (context.Context, context.CancelFunc, error) {
	if r.cfg.Fence == nil || r.cfg.Provider == nil || mode != ModeApplied {
		return ctx, func() {}, nil
	}
	fctx, cancel, err := r.cfg.Fence(ctx)
	if err != nil {
		return ctx, cancel, err
	}
	return context.WithValue(fctx, chainKey{}, ctx), cancel, nil
}

// fenceBatch is the check right before one batch request: the latest fence
// (ctx) still runs, so the lease has been held without a break since the
// zone was listed, and a new fence says this agent may still write. The
// batch is sent under the new fence's context, which the next batch's
// check chains on: a pass of many batches is not bounded by the first
// lease, only each link by its own.
func (r *Reconciler) fenceBatch(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if r.cfg.Fence == nil {
		return ctx, func() {}, nil
	}
	if testSkipLeaseCheck() { // test-only: see testhooks.go
		return context.WithoutCancel(ctx), func() {}, nil
	}
	if ctx.Err() != nil {
		return ctx, func() {}, fmt.Errorf("%w (%w)", ErrLeaseEnded, ctx.Err())
	}
	parent, ok := ctx.Value(chainKey{}).(context.Context)
	if !ok {
		parent = ctx
	}
	nctx, cancel, err := r.cfg.Fence(parent)
	if err != nil {
		cancel()
		return ctx, func() {}, fmt.Errorf("batch not sent: %w", err)
	}
	if ctx.Err() != nil { // the previous link ended while the fence was asked
		cancel()
		return ctx, func() {}, fmt.Errorf("%w (%w)", ErrLeaseEnded, ctx.Err())
	}
	// The last check before the send: the new link's Err may read a lease
	// clock that its timer does not follow (after a system suspend, see
	// ReconcilerConfig.Fence).
	if nctx.Err() != nil {
		cancel()
		return ctx, func() {}, fmt.Errorf("%w (%w)", ErrLeaseEnded, context.Cause(nctx))
	}
	return context.WithValue(nctx, chainKey{}, parent), cancel, nil
}
