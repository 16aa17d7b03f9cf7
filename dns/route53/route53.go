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
	"errors"
	"fmt"
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

// Apply makes creates and deletes in change batches (one unless the
// limits need more), each a DELETE of every set touched as listed and a
// CREATE of it as it becomes.
func (p *Provider) Apply(ctx context.Context, zone string, creates, deletes []dns.Record) error {
	_, err := p.write(ctx, zone, creates, deletes, nil)
	return err
}
