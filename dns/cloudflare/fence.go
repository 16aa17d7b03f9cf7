package cloudflare

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cfdns "github.com/cloudflare/cloudflare-go/v6/dns"

	"github.com/goavail/goavail/dns"
)

// fenceTTL is the fence records' TTL: nobody resolves them but an operator
// with dig.
const fenceTTL = 60

// FenceName is the fence record's name in zone: <fence_name>.<zone>.
func (c *Adapter) FenceName(zone string) string { return c.fenceLabel + "." + zone }

// ReadFence lists the TXT records at the zone's fence name (one request).
func (c *Adapter) ReadFence(ctx context.Context, zone string) (dns.ZoneFence, error) {
	name := c.FenceName(zone)
	id, err := c.zoneID(ctx, zone)
	if err != nil {
		return dns.ZoneFence{Name: name}, err
	}
	var q cfdns.RecordListParams
	q.ZoneID.Value, q.ZoneID.Present = id, true
	q.Type.Value, q.Type.Present = cfdns.RecordListParamsTypeTXT, true
	var n cfdns.RecordListParamsName
	n.Exact.Value, n.Exact.Present = name, true
	q.Name.Value, q.Name.Present = n, true
	start := time.Now()
	res, err := c.records.List(ctx, q)
	if err != nil {
		err = classify(fmt.Sprintf("read the fence record %s", name), err)
		c.observe("list", err, time.Since(start))
		return dns.ZoneFence{Name: name}, c.forget(zone, err)
	}
	c.observe("list", nil, time.Since(start))
	recs := make([]dns.Record, 0, len(res.Result))
	for _, r := range res.Result {
		recs = append(recs, dns.Record{ID: r.ID, Name: strings.ToLower(r.Name), Type: string(r.Type), Content: r.Content, TTL: int(r.TTL)})
	}
	return dns.SplitFence(name, recs), nil
}

// ApplyFenced sends one batch that deletes the fence's stamps by the ids
// the pass read, with the changes, and posts the new stamp: Cloudflare runs
// a batch's deletes first in one transaction, so if the fence moved the
// delete fails (81044) and nothing is applied. A zone without a fence gets
// its genesis record and first stamp in a batch of their own first: a
// second agent racing to do the same is refused (81058, identical record)
// before any of its changes go.
func (c *Adapter) ApplyFenced(ctx context.Context, zone string, f dns.ZoneFence, stamp dns.FenceStamp, creates, deletes []dns.Record) (dns.ZoneFence, error) {
	id, err := c.zoneID(ctx, zone)
	if err != nil {
		return f, err
	}
	f.Name = c.FenceName(zone)
	if f.Genesis.ID == "" {
		genesis := dns.Record{Name: f.Name, Type: "TXT", Content: dns.GenesisContent, TTL: fenceTTL}
		res, err := c.batch(ctx, zone, id, []dns.Record{genesis, c.stampRecord(f.Name, stamp)}, f.Stamps, "create the fence record")
		var stale *dns.StaleError
		if errors.As(err, &stale) && stale.Code == 81058 { // another agent made the genesis first
			return f, &dns.FenceMovedError{Err: err}
		}
		if err != nil {
			return f, fenceErr(err)
		}
		f = fenceFrom(f.Name, res)
		stamp.At = stamp.At.Add(time.Nanosecond) // the next stamp differs from this one
		if len(creates)+len(deletes) == 0 {
			return f, nil
		}
	}
	res, err := c.batch(ctx, zone, id, append(append([]dns.Record{}, creates...), c.stampRecord(f.Name, stamp)), append(append([]dns.Record{}, f.Stamps...), deletes...),
		fmt.Sprintf("batch %d creates, %d deletes", len(creates), len(deletes)))
	if err != nil {
		return f, fenceErr(err)
	}
	next := fenceFrom(f.Name, res)
	next.Genesis = f.Genesis
	return next, nil
}

func (c *Adapter) stampRecord(name string, s dns.FenceStamp) dns.Record {
	return dns.Record{Name: name, Type: "TXT", Content: s.Content(), TTL: fenceTTL}
}

// batch sends one batch request and returns the records it posted.
func (c *Adapter) batch(ctx context.Context, zone, id string, creates, deletes []dns.Record, what string) ([]dns.Record, error) {
	start := time.Now()
	res, err := c.records.Batch(ctx, batchParams(id, creates, deletes))
	if err != nil {
		err = classify(fmt.Sprintf("%s in zone %s", what, zone), err)
		c.observe("batch", err, time.Since(start))
		return nil, c.forget(zone, err)
	}
	c.observe("batch", nil, time.Since(start))
	out := make([]dns.Record, 0, len(res.Posts))
	for _, r := range res.Posts {
		out = append(out, dns.Record{ID: r.ID, Name: strings.ToLower(r.Name), Type: string(r.Type), Content: r.Content, TTL: int(r.TTL)})
	}
	return out, nil
}

// fenceFrom is the fence a batch left: the fence records among its posts.
func fenceFrom(name string, posted []dns.Record) dns.ZoneFence {
	return dns.SplitFence(name, posted)
}

// fenceErr turns the answer that means "the zone is not as listed" into a
// FenceMovedError: a delete of an id that no longer exists (81044: the
// fence moved, or a listed record was deleted meanwhile). The whole batch
// was refused; the pass lists again. (A create refused as already there,
// 81058, stays a StaleError: the record is as the plan wants it.)
func fenceErr(err error) error {
	var stale *dns.StaleError
	if errors.As(err, &stale) && stale.Code == 81044 {
		return &dns.FenceMovedError{Err: err}
	}
	return err
}
