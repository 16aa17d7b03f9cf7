package dns

import (
	"context"
	"fmt"
)

// The writer fence around a zone's pass. A zone is fenced before it is
// listed, and the listing, the plan and every batch run under that fence's
// context, which ends when the lease it proved ends: a batch is never
// planned on a listing taken under an earlier lease (another writer may
// have changed the zone in between). Before each batch request the fence
// is asked again, and the batch goes only if this agent still holds the
// lease and the first fence's context has not ended (the lease was held
// without a break since the listing).

// ErrLeaseEnded is wrapped by a batch not sent because the writer lease
// proved before the zone was listed has ended: the next pass lists again.
var ErrLeaseEnded = fmt.Errorf("the writer lease under which the zone was listed has ended; not sent, the zone is listed again at the next pass")

// fenceZone fences a zone's pass before it is listed, when this agent is
// about to write. It returns the context to list, plan and apply under,
// the fence's error (nil without a fence), and a cancel func.
func (r *Reconciler) fenceZone(ctx context.Context, mode string) (context.Context, context.CancelFunc, error) {
	if r.cfg.Fence == nil || r.cfg.Provider == nil || mode != ModeApplied {
		return ctx, func() {}, nil
	}
	return r.cfg.Fence(ctx)
}

// fenceBatch is the check right before one batch request: the zone's fence
// (ctx) still runs, and the fence says this agent may still write.
func (r *Reconciler) fenceBatch(ctx context.Context) error {
	if r.cfg.Fence == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ErrLeaseEnded, ctx.Err())
	}
	_, cancel, err := r.cfg.Fence(ctx)
	cancel()
	if err != nil {
		return fmt.Errorf("batch not sent: %w", err)
	}
	return nil
}
