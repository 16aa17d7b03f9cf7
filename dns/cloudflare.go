package dns

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	cfdns "github.com/cloudflare/cloudflare-go/v6/dns"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/zones"
)

// DefaultBaseURL is Cloudflare's v4 API.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4/"

// listPageSize is per_page for record listing. The schema allows up to
// 5,000,000; 20,000 A records (a few MB of JSON) cover a mass-managed zone in
// one request, and larger zones page.
const listPageSize = 20000

// Credentials authenticate to the API: a token, or the legacy global key
// with its account email.
type Credentials struct {
	Token      string
	Key, Email string
}

// Empty reports whether no credential is set.
func (c Credentials) Empty() bool { return c.Token == "" && c.Key == "" }

// CloudflareOptions configure the adapter.
type CloudflareOptions struct {
	BaseURL        string // DefaultBaseURL when empty
	Credentials    Credentials
	BatchSize      int           // most changes per batch request
	RequestTimeout time.Duration // bound on one request
	HTTPClient     *http.Client  // optional
	// Observe, if set, is told about every API request: its operation
	// ("zone_lookup", "list" or "batch"), its classified error (nil on
	// success) and how long it took. It must not block.
	Observe func(op string, err error, took time.Duration)
}

// Cloudflare is the Provider on the Cloudflare v4 API (cloudflare-go/v6).
// The SDK's own retries are off: the Reconciler decides when to try again,
// so a Retry-After is honoured across the whole agent, not inside one call.
type Cloudflare struct {
	records   *cfdns.RecordService
	zones     *zones.ZoneService
	batchSize int
	observe   func(op string, err error, took time.Duration)

	mu      sync.Mutex
	zoneIDs map[string]string
}

// NewCloudflare returns the adapter. It makes no request.
func NewCloudflare(o CloudflareOptions) (*Cloudflare, error) {
	if o.Credentials.Empty() {
		return nil, errors.New("no Cloudflare credentials: set CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL)")
	}
	if o.Credentials.Token == "" && o.Credentials.Email == "" {
		return nil, errors.New("CLOUDFLARE_API_KEY needs CLOUDFLARE_EMAIL, the account's email address")
	}
	base := o.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	opts := []option.RequestOption{option.WithBaseURL(base), option.WithMaxRetries(0), option.WithRequestTimeout(o.RequestTimeout)}
	if o.Credentials.Token != "" {
		opts = append(opts, option.WithAPIToken(o.Credentials.Token))
	} else {
		opts = append(opts, option.WithAPIKey(o.Credentials.Key), option.WithAPIEmail(o.Credentials.Email))
	}
	if o.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(o.HTTPClient))
	}
	if o.BatchSize < 1 {
		o.BatchSize = 200
	}
	observe := o.Observe
	if observe == nil {
		observe = func(string, error, time.Duration) {}
	}
	return &Cloudflare{records: cfdns.NewRecordService(opts...), zones: zones.NewZoneService(opts...), batchSize: o.BatchSize, zoneIDs: map[string]string{}, observe: observe}, nil
}

// zoneID looks a zone up by name once and caches its id.
func (c *Cloudflare) zoneID(ctx context.Context, zone string) (string, error) {
	c.mu.Lock()
	id, ok := c.zoneIDs[zone]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	var q zones.ZoneListParams
	q.Name.Value, q.Name.Present = zone, true
	start := time.Now()
	page, err := c.zones.List(ctx, q)
	if err != nil {
		err = classify(fmt.Sprintf("look up zone %s", zone), err)
		c.observe("zone_lookup", err, time.Since(start))
		return "", err
	}
	c.observe("zone_lookup", nil, time.Since(start))
	for _, z := range page.Result {
		if strings.EqualFold(z.Name, zone) {
			c.mu.Lock()
			c.zoneIDs[zone] = z.ID
			c.mu.Unlock()
			return z.ID, nil
		}
	}
	return "", &PermanentError{Err: fmt.Errorf("zone %s not found: check dns_domain and that the API token can read this zone (Zone:Read, DNS:Edit)", zone)}
}

// Records lists the zone's records of the given types, one request per
// type unless the zone is larger than a page.
func (c *Cloudflare) Records(ctx context.Context, zone string, types []string) ([]Record, error) {
	id, err := c.zoneID(ctx, zone)
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, typ := range types {
		for page := 1; ; page++ {
			var q cfdns.RecordListParams
			q.ZoneID.Value, q.ZoneID.Present = id, true
			q.Type.Value, q.Type.Present = cfdns.RecordListParamsType(typ), true
			q.Page.Value, q.Page.Present = float64(page), true
			q.PerPage.Value, q.PerPage.Present = listPageSize, true
			start := time.Now()
			res, err := c.records.List(ctx, q)
			if err != nil {
				err = classify(fmt.Sprintf("list %s records of zone %s", typ, zone), err)
				c.observe("list", err, time.Since(start))
				return nil, err
			}
			c.observe("list", nil, time.Since(start))
			for _, r := range res.Result {
				out = append(out, Record{ID: r.ID, Name: strings.ToLower(r.Name), Type: string(r.Type), Content: r.Content,
					TTL: int(r.TTL), Proxied: r.Proxied, Comment: r.Comment, Tags: tags(r.Tags)})
			}
			perPage := int(res.ResultInfo.PerPage)
			if perPage <= 0 {
				perPage = listPageSize
			}
			if len(res.Result) < perPage { // a short page is the last one
				break
			}
		}
	}
	return out, nil
}

// tags reads the SDK's untyped tags field (a list of "name:value" strings).
func tags(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, t := range list {
		if s, ok := t.(string); ok {
			out = append(out, s)
		}
	}
	if typed, ok := v.([]string); ok {
		out = append(out, typed...)
	}
	return out
}

// Apply sends the changes as batch requests of at most BatchSize changes.
// Creates go in the earlier batches and deletes in the later ones, so if a
// later batch fails no hostname has fewer records than the plan leaves it.
func (c *Cloudflare) Apply(ctx context.Context, zone string, creates, deletes []Record) error {
	id, err := c.zoneID(ctx, zone)
	if err != nil {
		return err
	}
	for len(creates)+len(deletes) > 0 {
		n := min(len(creates), c.batchSize)
		cs := creates[:n]
		ds := deletes[:min(len(deletes), c.batchSize-n)]
		creates, deletes = creates[n:], deletes[len(ds):]
		start := time.Now()
		if _, err := c.records.Batch(ctx, batchParams(id, cs, ds)); err != nil {
			err = classify(fmt.Sprintf("batch %d creates, %d deletes in zone %s", len(cs), len(ds), zone), err)
			c.observe("batch", err, time.Since(start))
			return err
		}
		c.observe("batch", nil, time.Since(start))
	}
	return nil
}

// RetryAfterError means the API asked the agent to wait before any further
// request (HTTP 429 with Retry-After).
type RetryAfterError struct {
	Wait time.Duration
	Err  error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (rate limited: retry after %s)", e.Err, e.Wait)
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// PermanentError means retrying soon will not help: bad credentials, a
// missing zone or a rejected record. The operator must act.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// StaleError means the zone changed under the plan (a record already exists,
// or is already gone): list again and re-plan at once.
type StaleError struct{ Err error }

func (e *StaleError) Error() string { return e.Err.Error() }
func (e *StaleError) Unwrap() error { return e.Err }

// classify wraps an SDK error with what the operator needs to know.
func classify(what string, err error) error {
	var apiErr *cfdns.Error
	if !errors.As(err, &apiErr) {
		return fmt.Errorf("%s: %w", what, err)
	}
	codes := make([]string, 0, len(apiErr.Errors))
	has := func(code int64) bool {
		for _, e := range apiErr.Errors {
			if e.Code == code {
				return true
			}
		}
		return false
	}
	for _, e := range apiErr.Errors {
		codes = append(codes, fmt.Sprintf("%d %s", e.Code, e.Message))
	}
	msg := fmt.Errorf("%s: HTTP %d: %s", what, apiErr.StatusCode, strings.Join(codes, "; "))
	switch {
	case apiErr.StatusCode == http.StatusTooManyRequests:
		return &RetryAfterError{Wait: retryAfter(apiErr.Response), Err: msg}
	case has(81058) || has(81044):
		return &StaleError{Err: msg}
	case apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden ||
		has(10000) || has(9109) || has(6003) || has(9103):
		return &PermanentError{Err: fmt.Errorf("%w: check CLOUDFLARE_API_TOKEN and its permissions (Zone:Read, DNS:Edit)", msg)}
	case apiErr.StatusCode >= 400 && apiErr.StatusCode < 500 && apiErr.StatusCode != http.StatusRequestTimeout && apiErr.StatusCode != http.StatusConflict:
		return &PermanentError{Err: msg}
	}
	return msg
}

// retryAfter reads Retry-After-Ms or Retry-After (seconds or an HTTP date);
// 1s when absent or unreadable.
func retryAfter(res *http.Response) time.Duration {
	if res == nil {
		return time.Second
	}
	if ms, err := strconv.ParseFloat(res.Header.Get("Retry-After-Ms"), 64); err == nil && ms > 0 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	v := res.Header.Get("Retry-After")
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), time.Second)
	}
	return time.Second
}

// batchParams builds one batch request. The SDK's field helper F lives in
// its root package, which would compile every Cloudflare service, so the
// fields are set directly.
func batchParams(zoneID string, creates, deletes []Record) cfdns.RecordBatchParams {
	var p cfdns.RecordBatchParams
	p.ZoneID.Value, p.ZoneID.Present = zoneID, true
	if len(creates) > 0 {
		posts := make([]cfdns.RecordBatchParamsPostUnion, len(creates))
		for i, r := range creates {
			var post cfdns.RecordBatchParamsPost
			post.Name.Value, post.Name.Present = r.Name, true
			post.Type.Value, post.Type.Present = cfdns.RecordBatchParamsPostsType(r.Type), true
			post.Content.Value, post.Content.Present = r.Content, true
			post.TTL.Value, post.TTL.Present = cfdns.TTL(r.TTL), true
			post.Proxied.Value, post.Proxied.Present = r.Proxied, true
			post.Comment.Value, post.Comment.Present = r.Comment, true
			if len(r.Tags) > 0 {
				post.Tags.Value, post.Tags.Present = r.Tags, true
			}
			posts[i] = post
		}
		p.Posts.Value, p.Posts.Present = posts, true
	}
	if len(deletes) > 0 {
		dels := make([]cfdns.RecordBatchParamsDelete, len(deletes))
		for i, r := range deletes {
			dels[i].ID.Value, dels[i].ID.Present = r.ID, true
		}
		p.Deletes.Value, p.Deletes.Present = dels, true
	}
	return p
}
