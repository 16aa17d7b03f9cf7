package route53

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/goavail/goavail/dns"
)

// FenceName is the fence set's name in zone: <fence_name>.<zone>.
func (p *Provider) FenceName(zone string) string { return p.o.FenceLabel + "." + zone }

// ReadFence lists the TXT set at the fence name (one page of one set).
func (p *Provider) ReadFence(ctx context.Context, zone string) (dns.ZoneFence, error) {
	fname := p.FenceName(zone)
	f := dns.ZoneFence{Name: fname}
	id, err := p.zoneID(ctx, zone)
	if err != nil {
		return f, fmt.Errorf("read the fence %s: %w", fname, err)
	}
	what := fmt.Sprintf("read the fence %s TXT of zone %s (%s)", fname, zone, id)
	res, err := call(ctx, p, "list", what, func(ctx context.Context) (*route53.ListResourceRecordSetsOutput, error) {
		return p.client.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id),
			StartRecordName: aws.String(fname + "."), StartRecordType: types.RRTypeTxt, MaxItems: aws.Int32(1)})
	})
	if err != nil {
		return f, err
	}
	nt := nameType{strings.ToLower(fname), "TXT"}
	p.mu.Lock()
	defer p.mu.Unlock()
	read, seen := p.zoneMapsLocked(zone)
	seen[nt] = true
	delete(read, setKey{nt, ""})
	var recs []dns.Record
	for _, s := range res.ResourceRecordSets {
		if k := keyOf(s); k == (setKey{nt, ""}) && s.AliasTarget == nil {
			read[k] = s
			recs = records(s)
		}
	}
	return dns.SplitFence(fname, recs), nil
}

// ApplyFenced makes creates and deletes and replaces the fence's stamps
// with stamp (adding the genesis value when f has none), in the same
// change batch: the fence set is deleted exactly as read, so a write after
// the read makes Route 53 refuse the whole batch (*dns.FenceMovedError),
// and so does a racer's first fence ("already exists"). When the sets
// touched need more than one batch, each carries the fence, its stamp a
// nanosecond later than the one before.
func (p *Provider) ApplyFenced(ctx context.Context, zone string, f dns.ZoneFence, stamp dns.FenceStamp, creates, deletes []dns.Record) (dns.ZoneFence, error) {
	f.Name = p.FenceName(zone)
	return p.write(ctx, zone, creates, deletes, &fenceWrite{f: f, stamp: stamp})
}

type fenceWrite struct {
	f     dns.ZoneFence
	stamp dns.FenceStamp
}
