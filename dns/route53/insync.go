package route53

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// change is a change batch's change waiting to be INSYNC.
type change struct {
	id    string
	start time.Time // when its batch was answered
}

// pending adds a batch's change to its hosted zone's poller, starting the
// poller when the zone has none running. A hosted zone's changes are
// applied in order (Route 53 answers PriorRequestNotComplete while one is
// under way), so the poller asks only about the zone's latest change,
// once a PollInterval: however many batches a pass sends, GetChange stays
// one request a PollInterval per zone, well inside the account's five a
// second. When the latest is INSYNC, so is every change before it.
func (p *Provider) pending(ctx context.Context, zoneID, id string, status types.ChangeStatus, start time.Time) {
	if status == types.ChangeStatusInsync {
		p.observe("insync", nil, time.Since(start))
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	running := len(p.polls[zoneID]) > 0
	p.polls[zoneID] = append(p.polls[zoneID], change{id: id, start: start})
	if !running {
		p.wg.Add(1)
		go p.poll(ctx, zoneID)
	}
}

// poll asks GetChange about the zone's latest change every PollInterval
// until every change it waits for is INSYNC, each at most insyncBound
// after its batch; it reports each one through Observe("insync").
func (p *Provider) poll(ctx context.Context, zoneID string) {
	defer p.wg.Done()
	t := time.NewTimer(p.o.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.giveUp(zoneID, 0, ctx.Err())
			return
		case <-t.C:
		}
		p.mu.Lock()
		waiting := p.polls[zoneID]
		p.mu.Unlock()
		latest := waiting[len(waiting)-1]
		cctx, cancel := context.WithTimeout(ctx, insyncBound)
		out, err := call(cctx, p, "change", "read the change "+latest.id+" (GetChange)", func(ctx context.Context) (*route53.GetChangeOutput, error) {
			return p.client.GetChange(ctx, &route53.GetChangeInput{Id: aws.String(latest.id)})
		})
		cancel()
		now := time.Now()
		p.mu.Lock()
		if err == nil && out.ChangeInfo != nil && out.ChangeInfo.Status == types.ChangeStatusInsync {
			done := p.polls[zoneID][:len(waiting)]
			p.polls[zoneID] = p.polls[zoneID][len(waiting):]
			for _, c := range done {
				p.observe("insync", nil, now.Sub(c.start))
			}
		}
		stale := 0
		for _, c := range p.polls[zoneID] {
			if now.Sub(c.start) < insyncBound {
				break
			}
			stale++
		}
		p.mu.Unlock()
		if stale > 0 {
			p.giveUp(zoneID, stale, fmt.Errorf("not INSYNC after %s", insyncBound))
		}
		p.mu.Lock()
		left := len(p.polls[zoneID])
		p.mu.Unlock()
		if left == 0 {
			return
		}
		t.Reset(p.o.PollInterval)
	}
}

// giveUp reports the first n changes the zone's poller waits for (all
// when n is 0) as never INSYNC, and drops them.
func (p *Provider) giveUp(zoneID string, n int, why error) {
	p.mu.Lock()
	w := p.polls[zoneID]
	if n == 0 || n > len(w) {
		n = len(w)
	}
	p.polls[zoneID] = w[n:]
	p.mu.Unlock()
	for _, c := range w[:n] {
		p.observe("insync", fmt.Errorf("change %s: %w", c.id, why), time.Since(c.start))
	}
}
