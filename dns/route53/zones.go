package route53

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/goavail/goavail/dns"
)

// zoneID is the hosted zone id of zone: configured, or looked up by name
// (the public zone of that name; a private one only when it is the only one).
func (p *Provider) zoneID(ctx context.Context, zone string) (string, error) {
	p.mu.Lock()
	id, ok := p.ids[zone]
	p.mu.Unlock()
	if ok {
		return id, nil
	}
	what := "look up the hosted zone " + zone + " (ListHostedZonesByName)"
	out, err := call(ctx, p, "zone", what, func(ctx context.Context) (*route53.ListHostedZonesByNameOutput, error) {
		return p.client.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String(zone), MaxItems: aws.Int32(10)})
	})
	if err != nil {
		return "", err
	}
	var public, private []string
	for _, hz := range out.HostedZones {
		if strings.TrimSuffix(strings.ToLower(aws.ToString(hz.Name)), ".") != zone {
			continue
		}
		hid := strings.TrimPrefix(aws.ToString(hz.Id), "/hostedzone/")
		if hz.Config != nil && hz.Config.PrivateZone {
			private = append(private, hid)
		} else {
			public = append(public, hid)
		}
	}
	switch {
	case len(public) == 1:
		id = public[0]
	case len(public) == 0 && len(private) == 1:
		id = private[0]
	case len(public)+len(private) == 0:
		return "", &dns.PermanentError{Err: fmt.Errorf("%s: the account has no hosted zone named %s: create it, or set aws_zoneid", what, zone)}
	default:
		return "", &dns.PermanentError{Err: fmt.Errorf("%s: the account has %d hosted zones named %s (%s): set aws_zoneid to the one goavail keeps", what, len(public)+len(private), zone, strings.Join(append(public, private...), ", "))}
	}
	p.mu.Lock()
	p.ids[zone] = id
	p.mu.Unlock()
	return id, nil
}

// CheckZones looks each zone up (GetHostedZone), changing nothing: a zone
// that does not exist, or credentials that may not read it, are a
// *dns.PermanentError.
func (p *Provider) CheckZones(ctx context.Context, zones []string) error {
	var errs []error
	for _, z := range zones {
		if _, err := p.NameServers(ctx, z); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// NameServers is the zone's delegation set (GetHostedZone), each host:53
// (or host:port as given, as the emulator gives them).
func (p *Provider) NameServers(ctx context.Context, zone string) ([]string, error) {
	p.mu.Lock()
	ns, ok := p.ns[zone]
	p.mu.Unlock()
	if ok {
		return ns, nil
	}
	id, err := p.zoneID(ctx, zone)
	if err != nil {
		return nil, err
	}
	out, err := call(ctx, p, "zone", fmt.Sprintf("read the hosted zone %s (%s, GetHostedZone)", zone, id), func(ctx context.Context) (*route53.GetHostedZoneOutput, error) {
		return p.client.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(id)})
	})
	if err != nil {
		return nil, err
	}
	if out.HostedZone != nil {
		if got := strings.TrimSuffix(strings.ToLower(aws.ToString(out.HostedZone.Name)), "."); got != zone {
			return nil, &dns.PermanentError{Err: fmt.Errorf("read the hosted zone %s (%s): %s is the hosted zone of %s, not of %s: check aws_zoneid", zone, id, id, got, zone)}
		}
	}
	ns = []string{}
	if out.DelegationSet != nil {
		for _, n := range out.DelegationSet.NameServers {
			if _, _, err := net.SplitHostPort(n); err != nil {
				n = net.JoinHostPort(strings.TrimSuffix(n, "."), "53")
			}
			ns = append(ns, n)
		}
	}
	p.mu.Lock()
	p.ns[zone] = ns
	if out.HostedZone != nil && out.HostedZone.ResourceRecordSetCount != nil {
		p.size[zone] = *out.HostedZone.ResourceRecordSetCount
	}
	p.mu.Unlock()
	return ns, nil
}
