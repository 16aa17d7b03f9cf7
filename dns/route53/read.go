package route53

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/goavail/goavail/dns"
)

// listAll lists every set of the zone, following the pages.
func (p *Provider) listAll(ctx context.Context, zone, id string) ([]rrset, error) {
	var out []rrset
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id)}
	for page := 1; ; page++ {
		what := fmt.Sprintf("list the record sets of zone %s (%s), page %d", zone, id, page)
		res, err := call(ctx, p, "list", what, func(ctx context.Context) (*route53.ListResourceRecordSetsOutput, error) {
			return p.client.ListResourceRecordSets(ctx, in)
		})
		if err != nil {
			return nil, err
		}
		out = append(out, res.ResourceRecordSets...)
		if !res.IsTruncated {
			return out, nil
		}
		if res.NextRecordName == nil {
			return nil, fmt.Errorf("%s: the answer is truncated but names no next record; will retry", what)
		}
		in = &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id), StartRecordName: res.NextRecordName, StartRecordType: res.NextRecordType, StartRecordIdentifier: res.NextRecordIdentifier}
	}
}

// pageSize is the most sets Route 53 lists in one page.
const pageSize = 300

// listNames lists the sets of each name, from the name on, until a set
// of another name (or the end).
func (p *Provider) listNames(ctx context.Context, zone, id string, names []string) ([]rrset, error) {
	var out []rrset
	for _, n := range names {
		in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id), StartRecordName: aws.String(n + ".")}
		for page := 1; ; page++ {
			what := fmt.Sprintf("list the record sets of %s in zone %s (%s), page %d", n, zone, id, page)
			res, err := call(ctx, p, "list", what, func(ctx context.Context) (*route53.ListResourceRecordSetsOutput, error) {
				return p.client.ListResourceRecordSets(ctx, in)
			})
			if err != nil {
				return nil, err
			}
			other := false
			for _, s := range res.ResourceRecordSets {
				if name(aws.ToString(s.Name)) != n {
					other = true
					break
				}
				out = append(out, s)
			}
			if other || !res.IsTruncated || res.NextRecordName == nil {
				break
			}
			in = &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id), StartRecordName: res.NextRecordName, StartRecordType: res.NextRecordType, StartRecordIdentifier: res.NextRecordIdentifier}
		}
	}
	return out, nil
}

// Records lists the zone (every page; or, when the zone's set count from
// GetHostedZone says that takes more calls than there are managed names,
// from each managed name on) and returns one record per value of
// the managed names' sets of types, alias sets left out; it remembers each
// set as listed.
func (p *Provider) Records(ctx context.Context, zone string, types []string) ([]dns.Record, error) {
	id, err := p.zoneID(ctx, zone)
	if err != nil {
		return nil, err
	}
	managed := map[nameType]bool{}
	var names []string
	for _, n := range p.o.Names(zone) {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
		for _, t := range types {
			managed[nameType{n, strings.ToUpper(t)}] = true
		}
	}
	p.mu.Lock()
	size, known := p.size[zone]
	p.mu.Unlock()
	var sets []rrset
	if known && (size+pageSize-1)/pageSize > int64(len(names)) {
		sets, err = p.listNames(ctx, zone, id, names)
	} else {
		sets, err = p.listAll(ctx, zone, id)
	}
	if err != nil {
		return nil, err
	}
	var out []dns.Record
	p.mu.Lock()
	defer p.mu.Unlock()
	read, seen := p.zoneMapsLocked(zone)
	for k := range read {
		if managed[k.nameType] {
			delete(read, k)
		}
	}
	for nt := range managed {
		seen[nt] = true
	}
	alias := map[setKey]bool{}
	p.alias[zone] = alias
	for _, s := range sets {
		k := keyOf(s)
		if managed[k.nameType] && s.AliasTarget != nil {
			alias[k] = true
		}
		if !managed[k.nameType] || s.AliasTarget != nil {
			continue
		}
		read[k] = s
		out = append(out, records(s)...)
	}
	return out, nil
}

func (p *Provider) zoneMapsLocked(zone string) (map[setKey]rrset, map[nameType]bool) {
	if p.read[zone] == nil {
		p.read[zone] = map[setKey]rrset{}
		p.seen[zone] = map[nameType]bool{}
		p.gone[zone] = map[setKey]rrset{}
		p.was[zone] = map[string][]setKey{}
	}
	return p.read[zone], p.seen[zone]
}

// name is a Route 53 name as the core writes it: no trailing dot, lower
// case, "*" for Route 53's "\052".
func name(n string) string {
	n = strings.TrimSuffix(strings.ToLower(n), ".")
	return strings.ReplaceAll(n, `\052`, "*")
}

func keyOf(s rrset) setKey {
	return setKey{nameType{name(aws.ToString(s.Name)), string(s.Type)}, aws.ToString(s.SetIdentifier)}
}

// recordID names one value of a set: the set's key and the value as
// Route 53 holds it.
func recordID(k setKey, value string) string {
	return k.name + "|" + k.typ + "|" + k.id + "|" + value
}

// records are the set's values as the core's records.
func records(s rrset) []dns.Record {
	k := keyOf(s)
	out := make([]dns.Record, 0, len(s.ResourceRecords))
	for _, rr := range s.ResourceRecords {
		v := aws.ToString(rr.Value)
		c := v
		if k.typ == "TXT" {
			c = strings.Trim(v, `"`)
		}
		out = append(out, dns.Record{ID: recordID(k, v), Name: k.name, Type: k.typ, Content: c, TTL: int(aws.ToInt64(s.TTL)), Tags: setTags(s)})
	}
	return out
}

// setTagPrefix starts the tag that carries a routed set's fields (its
// identifier, weight, failover role, health check...) on each of its
// records. The core's Memory keeps a removed record's tags (in the state
// file, and shared with the other agents) and puts them back on its
// restore, so that a restore by another process (after a restart, or by
// another agent taking over as writer) goes back into the set it left,
// made again with its routing fields when goavail emptied it.
const setTagPrefix = "route53-set="

// setTags is the tag of a routed set's records; none for a simple set.
func setTags(s rrset) []string {
	if aws.ToString(s.SetIdentifier) == "" {
		return nil
	}
	s.ResourceRecords = nil
	b, err := json.Marshal(s)
	if err != nil {
		return nil
	}
	return []string{setTagPrefix + string(b)}
}

// taggedSet is the set a record's tag names (values left out).
func taggedSet(tags []string) (rrset, bool) {
	for _, t := range tags {
		if j, ok := strings.CutPrefix(t, setTagPrefix); ok {
			var s rrset
			if err := json.Unmarshal([]byte(j), &s); err == nil && aws.ToString(s.SetIdentifier) != "" {
				return s, true
			}
		}
	}
	return rrset{}, false
}

// value is a record's content as a Route 53 value.
func value(r dns.Record) string {
	if strings.ToUpper(r.Type) == "TXT" {
		return `"` + strings.Trim(r.Content, `"`) + `"`
	}
	return r.Content
}

// firstLabel is the name's first label: the set identifier the original
// goavail gave its weighted sets.
func firstLabel(n string) string { l, _, _ := strings.Cut(n, "."); return l }
