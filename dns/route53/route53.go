// Package route53 is the dns.Provider for Amazon Route 53, on
// github.com/aws/aws-sdk-go-v2/service/route53.
//
// Route 53 changes whole record sets: a set is (name, type, set
// identifier) with one TTL and its values, plus routing fields (Weight,
// Failover, Region, GeoLocation, MultiValueAnswer, HealthCheckId...). The
// provider lists the zone, remembers every set of the managed names as
// listed, and turns the core's per-address creates and deletes into, per
// set touched, a DELETE of the set exactly as listed and a CREATE of the
// set as it becomes, with the same routing fields, all in one change batch
// (atomic at Route 53). A DELETE must match the set's current values
// exactly, so a stale plan is refused whole with InvalidChangeBatch, which
// is a *dns.FenceMovedError: list again, plan again. The zone fence is the
// TXT set at <FenceLabel>.<zone>, rewritten the same way in every batch.
//
// Alias sets (AliasTarget) are never goavail's: they are not listed to the
// core and never changed. Weighted sets stay weighted: a removal takes the
// address out of the set that holds it, keeping its SetIdentifier and
// Weight; a restore goes into the set the name already has (the one whose
// identifier is the name's first label, when there are several), else a
// new set, weighted (identifier = first label, weight 0, as the original
// goavail wrote) when Options.Weighted says so, else simple.
//
// The SDK's own retryer is off (aws.NopRetryer): Throttling,
// PriorRequestNotComplete, 5xx and timeouts come back to the core at once
// (errors.go), whose pacing retries them.
package route53

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/goavail/goavail/dns"
)

// DefaultTimeout bounds one API call when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// DefaultRegion signs requests when Options.Region is empty: Route 53 is
// a global service whose API lives in us-east-1.
const DefaultRegion = "us-east-1"

// defaultTTL is the TTL of a set created where the core's record has none
// (TTL 1 is Cloudflare's "automatic").
const defaultTTL = 300

// fenceTTL is the fence set's TTL.
const fenceTTL = 60

// DefaultPollInterval is how often a hosted zone's latest change is read
// until it is INSYNC.
const DefaultPollInterval = 5 * time.Second

// insyncBound bounds the wait for one change to be INSYNC.
const insyncBound = 10 * time.Minute

// Options configure a Provider.
type Options struct {
	// Region signs the requests; "" is DefaultRegion.
	Region string
	// ZoneIDs maps a zone (no trailing dot) to its hosted zone id
	// (config aws_zoneid); a zone not in it is looked up by name.
	ZoneIDs map[string]string
	// Names gives the managed hostnames of a zone (fully qualified, no
	// trailing dot); called at every listing.
	Names func(zone string) []string
	// Weighted reports whether a set created where the name has none is
	// weighted (identifier = the name's first label, weight 0), as the
	// original goavail's [Route53] block wrote them. Nil: never.
	Weighted func(zone, name string) bool
	// FenceLabel is the fence set's first label(s) (config fence_name).
	FenceLabel string
	// Timeout bounds one API call; 0 is DefaultTimeout.
	Timeout time.Duration
	// Observe, if set, is told of every call: "list" (one page), "batch"
	// (one change batch), "zone" (a zone look-up), "change" (one GetChange)
	// and "insync" (a batch's change reached INSYNC: took is from the
	// batch's answer until then; err set if it never did), with its error
	// and how long it took.
	Observe func(op string, err error, took time.Duration)
	// AWS is the SDK configuration; nil loads the default one
	// (config.LoadDefaultConfig with Region): the SDK's default credential
	// chain (environment, shared files, instance roles) and its endpoint
	// settings (AWS_ENDPOINT_URL_ROUTE_53).
	AWS *aws.Config
	// SharedCredentialsFile, when set (and AWS nil), is the shared
	// credentials file the default chain reads instead of
	// ~/.aws/credentials: the systemd credential aws_credentials. The
	// environment's keys still come first, as in the chain.
	SharedCredentialsFile string
	// Rate is how many API calls start in any window of a little over a
	// second (Route 53 allows 5 requests per second per account); 0 is
	// DefaultRate, negative turns the pacing off.
	Rate int
	// PollInterval is how often GetChange is asked about a hosted zone's
	// latest change until it is INSYNC; 0 is DefaultPollInterval,
	// negative turns the polling off.
	PollInterval time.Duration
}

// Provider reads and writes the hosted zones of one AWS account.
type Provider struct {
	o      Options
	client *route53.Client
	pace   *pacer // Route 53's requests per second (pace.go)

	mu   sync.Mutex
	ids  map[string]string            // zone -> hosted zone id
	ns   map[string][]string          // zone -> its nameservers, host:port
	size map[string]int64             // zone -> its set count, as GetHostedZone last said
	read map[string]map[setKey]rrset  // zone -> set -> as last listed or written
	seen map[string]map[nameType]bool // zone -> the names and types listed
	// gone keeps the sets goavail emptied, and was the sets each value
	// goavail removed was in (by name|type|value; a value can be in
	// several sets of a name), so that a restore goes back into every set
	// it left, with its routing fields and TTL.
	gone map[string]map[setKey]rrset
	was  map[string]map[string][]setKey
	// alias are the alias sets of the managed names as last listed: never
	// goavail's, and a set goavail cannot create beside.
	alias map[string]map[setKey]bool
	wg    sync.WaitGroup // INSYNC pollers
	// polls are the changes each hosted zone's poller waits for (insync.go).
	polls map[string][]change
}

// nameType is a name (no trailing dot, "*" as is) and a type.
type nameType struct{ name, typ string }

// setKey names a set.
type setKey struct {
	nameType
	id string
}

// rrset is a set as Route 53 holds it.
type rrset = types.ResourceRecordSet

// New checks o and builds a Provider; it sends nothing.
func New(ctx context.Context, o Options) (*Provider, error) {
	var errs []error
	if o.Names == nil {
		errs = append(errs, errors.New("route53: no managed names"))
	}
	if o.FenceLabel == "" {
		errs = append(errs, errors.New("route53: no fence label (config fence_name)"))
	}
	for z, id := range o.ZoneIDs {
		if id == "" || strings.ContainsAny(id, " /") && !strings.HasPrefix(id, "/hostedzone/") {
			errs = append(errs, fmt.Errorf("route53: aws_zoneid %q of zone %s: want a hosted zone id such as Z0123456789ABCDEFGHIJ", id, z))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	var cfg aws.Config
	if o.AWS != nil {
		cfg = o.AWS.Copy()
	} else {
		var err error
		opts := []func(*config.LoadOptions) error{config.WithRegion(o.Region)}
		if o.SharedCredentialsFile != "" {
			opts = append(opts, config.WithSharedCredentialsFiles([]string{o.SharedCredentialsFile}))
		}
		if cfg, err = config.LoadDefaultConfig(ctx, opts...); err != nil {
			return nil, fmt.Errorf("route53: load the AWS configuration (environment, ~/.aws/config and credentials): %w", err)
		}
	}
	if cfg.Region == "" {
		cfg.Region = o.Region
	}
	client := route53.NewFromConfig(cfg, func(ro *route53.Options) {
		ro.Retryer = aws.NopRetryer{} // the core's pacing retries, not the SDK
	})
	p := &Provider{o: o, client: client, pace: newPacer(o.Rate, rateWindow), ids: map[string]string{}, ns: map[string][]string{}, size: map[string]int64{}, polls: map[string][]change{},
		read: map[string]map[setKey]rrset{}, seen: map[string]map[nameType]bool{}, gone: map[string]map[setKey]rrset{}, was: map[string]map[string][]setKey{}, alias: map[string]map[setKey]bool{}}
	for z, id := range o.ZoneIDs {
		p.ids[strings.TrimSuffix(strings.ToLower(z), ".")] = strings.TrimPrefix(id, "/hostedzone/")
	}
	return p, nil
}

// CredentialsFound asks the SDK's credential chain for credentials (which
// may ask the instance's metadata service), sending nothing to Route 53.
func (p *Provider) CredentialsFound(ctx context.Context) error {
	c := p.client.Options().Credentials
	if c == nil {
		return errors.New("no credentials provider")
	}
	_, err := c.Retrieve(ctx)
	return err
}

// Wait waits for the INSYNC polls under way (tests, shutdown).
func (p *Provider) Wait() { p.wg.Wait() }

// BatchSize is the most record changes the core puts in one ApplyFenced:
// Route 53's 1,000 records per request. A batch rewrites whole sets, so the
// provider packs the sets a call touches into as many change batches as
// the limits need (pack).
func (p *Provider) BatchSize() int { return 1000 }

func (p *Provider) observe(op string, err error, took time.Duration) {
	if p.o.Observe != nil {
		p.o.Observe(op, err, took)
	}
}

// call runs one API call bounded by the timeout and reports it.
func call[T any](ctx context.Context, p *Provider, op, what string, f func(context.Context) (T, error)) (T, error) {
	if err := p.pace.wait(ctx); err != nil {
		var zero T
		return zero, fmt.Errorf("%s: waiting for Route 53's request rate: %w", what, err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	start := time.Now()
	out, err := f(ctx)
	if err != nil {
		err = classify(what, err)
	}
	p.observe(op, err, time.Since(start))
	return out, err
}

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

// Apply makes creates and deletes in change batches (one unless the
// limits need more), each a DELETE of every set touched as listed and a
// CREATE of it as it becomes.
func (p *Provider) Apply(ctx context.Context, zone string, creates, deletes []dns.Record) error {
	_, err := p.write(ctx, zone, creates, deletes, nil)
	return err
}

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
