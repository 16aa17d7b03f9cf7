package cloudflare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cfdns "github.com/cloudflare/cloudflare-go/v6/dns"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/zones"
	"github.com/goavail/goavail/dns"
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

// Options configure the adapter.
type Options struct {
	BaseURL        string // DefaultBaseURL when empty
	Credentials    Credentials
	BatchSize      int           // most changes per batch request
	RequestTimeout time.Duration // bound on one request
	HTTPClient     *http.Client  // optional
	// AccountID, when set, limits the zone lookup to that account, for
	// tokens that span accounts holding zones of the same name.
	AccountID string
	// FenceLabel is the fence record's first label(s): the record is
	// <FenceLabel>.<zone>. Default "_goavail".
	FenceLabel string
	// Observe, if set, is told about every API request: its operation
	// ("zone_lookup", "list" or "batch"), its classified error (nil on
	// success) and how long it took. It must not block.
	Observe func(op string, err error, took time.Duration)
}

// Adapter is the dns.Provider on the Cloudflare v4 API (cloudflare-go/v6).
// The SDK's own retries are off: the Reconciler decides when to try again,
// so a Retry-After is honoured across the whole agent, not inside one call.
type Adapter struct {
	records    *cfdns.RecordService
	zones      *zones.ZoneService
	batchSize  int
	accountID  string
	fenceLabel string
	observe    func(op string, err error, took time.Duration)

	mu      sync.Mutex
	zoneIDs map[string]zoneInfo
}

// New returns the adapter. It makes no request.
func New(o Options) (*Adapter, error) {
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
	opts := []option.RequestOption{option.WithBaseURL(base), option.WithMaxRetries(0), option.WithRequestTimeout(o.RequestTimeout),
		option.WithMiddleware(keepNonAPIAnswers)}
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
	if o.FenceLabel == "" {
		o.FenceLabel = "_goavail"
	}
	observe := o.Observe
	if observe == nil {
		observe = func(string, error, time.Duration) {}
	}
	return &Adapter{records: cfdns.NewRecordService(opts...), zones: zones.NewZoneService(opts...), batchSize: o.BatchSize,
		accountID: o.AccountID, fenceLabel: o.FenceLabel, zoneIDs: map[string]zoneInfo{}, observe: observe}, nil
}

// zoneInfo is what the adapter caches of a zone.
type zoneInfo struct {
	id          string
	nameServers []string
}

// zone looks a zone up by name, among active zones only (and in AccountID's
// account when set), and caches it. Two active zones of that name is an
// error that names both accounts: the token spans accounts, and
// account_id must say which.
func (c *Adapter) zone(ctx context.Context, zone string) (zoneInfo, error) {
	c.mu.Lock()
	z, ok := c.zoneIDs[zone]
	c.mu.Unlock()
	if ok {
		return z, nil
	}
	var q zones.ZoneListParams
	q.Name.Value, q.Name.Present = zone, true
	q.Status.Value, q.Status.Present = zones.ZoneListParamsStatusActive, true
	if c.accountID != "" {
		var acct zones.ZoneListParamsAccount
		acct.ID.Value, acct.ID.Present = c.accountID, true
		q.Account.Value, q.Account.Present = acct, true
	}
	start := time.Now()
	page, err := c.zones.List(ctx, q)
	if err != nil {
		err = lookupError(classify(fmt.Sprintf("look up zone %s", zone), err))
		c.observe("zone_lookup", err, time.Since(start))
		return zoneInfo{}, err
	}
	c.observe("zone_lookup", nil, time.Since(start))
	var found []zones.Zone
	for _, z := range page.Result {
		// The filters are the API's; check them again, so that an API (or
		// emulator) that ignores one cannot hand over the wrong zone.
		if strings.EqualFold(z.Name, zone) && z.Status == zones.ZoneStatusActive && (c.accountID == "" || z.Account.ID == c.accountID) {
			found = append(found, z)
		}
	}
	switch len(found) {
	case 0:
		where := "the token's accounts"
		if c.accountID != "" {
			where = "account " + c.accountID
		}
		return zoneInfo{}, &dns.PermanentError{Err: fmt.Errorf("no active zone %s in %s: check dns_domain, account_id and that the API token can read this zone (Zone:Read, DNS:Edit)", zone, where)}
	case 1:
	default:
		var accts []string
		for _, z := range found {
			accts = append(accts, fmt.Sprintf("%s (%s, zone %s)", z.Account.ID, z.Account.Name, z.ID))
		}
		return zoneInfo{}, &dns.PermanentError{Err: fmt.Errorf("%d active zones named %s, in accounts %s: set account_id in [Cloudflare] to the one goavail manages", len(found), zone, strings.Join(accts, " and "))}
	}
	info := zoneInfo{id: found[0].ID, nameServers: slices.Clone(found[0].NameServers)}
	c.mu.Lock()
	c.zoneIDs[zone] = info
	c.mu.Unlock()
	return info, nil
}

// lookupError reads a zone-id error on the zone lookup itself (which
// sends no zone id) for what it is: a 404 "No route for that URI" (7000),
// from an API URL that does not end in /client/v4.
func lookupError(err error) error {
	var zerr *dns.ZoneError
	if errors.As(err, &zerr) {
		return &dns.PermanentError{Err: fmt.Errorf("%w: check the API URL (CLOUDFLARE_BASE_URL or api_base_url; it must end in /client/v4)", errors.Unwrap(zerr.Err))}
	}
	return err
}

// zoneID is the cached id of zone.
func (c *Adapter) zoneID(ctx context.Context, zone string) (string, error) {
	z, err := c.zone(ctx, zone)
	return z.id, err
}

// forget drops a zone's cached id after the API said it is no longer valid.
func (c *Adapter) forget(zone string, err error) error {
	var zerr *dns.ZoneError
	if errors.As(err, &zerr) {
		c.mu.Lock()
		delete(c.zoneIDs, zone)
		c.mu.Unlock()
	}
	return err
}

// NameServers returns the authoritative nameservers the zone object lists
// (name_servers), to verify that a change reached them.
func (c *Adapter) NameServers(ctx context.Context, zone string) ([]string, error) {
	z, err := c.zone(ctx, zone)
	return slices.Clone(z.nameServers), err
}

// Records lists the zone's records of the given types, one request per
// type unless the zone is larger than a page; it follows the answer's
// total_pages when there is one.
func (c *Adapter) Records(ctx context.Context, zone string, types []string) ([]dns.Record, error) {
	id, err := c.zoneID(ctx, zone)
	if err != nil {
		return nil, err
	}
	var out []dns.Record
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
				return nil, c.forget(zone, err)
			}
			c.observe("list", nil, time.Since(start))
			for _, r := range res.Result {
				out = append(out, dns.Record{ID: r.ID, Name: strings.ToLower(r.Name), Type: string(r.Type), Content: r.Content,
					TTL: int(r.TTL), Proxied: r.Proxied, Comment: r.Comment, Tags: tags(r.Tags), Created: r.CreatedOn})
			}
			if lastPage(page, len(res.Result), int(res.ResultInfo.PerPage), res.ResultInfo.JSON.ExtraFields["total_pages"].Raw()) {
				break
			}
		}
	}
	return out, nil
}

// lastPage reports whether a listing's page is its last: the page
// total_pages names (the SDK keeps it as raw JSON), or, without it, an
// empty page or one shorter than the per_page the API echoed. A page may
// be short and not the last, when the API caps the page size below what
// was asked and echoes the asked size.
func lastPage(page, got, perPage int, totalPages string) bool {
	if n, err := strconv.Atoi(totalPages); err == nil && n >= 0 {
		return page >= n || got == 0
	}
	if perPage <= 0 {
		perPage = listPageSize
	}
	return got < perPage
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

// Apply sends the changes in one batch request, which Cloudflare applies
// all or nothing. The Reconciler never sends more than BatchSize changes at
// once; a larger set is still cut into batches of BatchSize (creates in
// the earlier ones), which are then not atomic together.
func (c *Adapter) Apply(ctx context.Context, zone string, creates, deletes []dns.Record) error {
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
			return c.forget(zone, err)
		}
		c.observe("batch", nil, time.Since(start))
	}
	return nil
}

// classify wraps an SDK error with what the operator needs to know, and
// the type the Reconciler acts on (see classifyAnswer).
func classify(what string, err error) error {
	var na *nonAPIAnswer
	if errors.As(err, &na) {
		return classifyAnswer(what, apiAnswer{status: na.status, header: na.header, now: answerTime(na.header), rawBody: na.body})
	}
	var apiErr *cfdns.Error
	if !errors.As(err, &apiErr) {
		return fmt.Errorf("%s: %w", what, err)
	}
	a := apiAnswer{status: apiErr.StatusCode, now: time.Now()}
	if apiErr.Response != nil {
		a.header, a.now = apiErr.Response.Header, answerTime(apiErr.Response.Header)
	}
	for _, e := range apiErr.Errors {
		a.codes, a.msgs = append(a.codes, e.Code), append(a.msgs, e.Message)
	}
	return classifyAnswer(what, a)
}

// answerTime is the answer's Date header, or the local clock without one.
func answerTime(h http.Header) time.Time {
	if t, err := http.ParseTime(h.Get("Date")); err == nil {
		return t
	}
	return time.Now()
}

// nonAPIAnswer is an error answer that is not Cloudflare's JSON envelope:
// an HTML page from the edge (a 502 from a proxy, say). The SDK would fail
// to parse it and lose the status; the middleware keeps it.
type nonAPIAnswer struct {
	status int
	header http.Header
	body   string
}

// ErrorCode is the answer's HTTP status, as the reconciler logs it.
func (e *nonAPIAnswer) ErrorCode() string { return "http_" + strconv.Itoa(e.status) }

func (e *nonAPIAnswer) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.status, bodyHint(e.body))
}

// keepNonAPIAnswers turns an error answer whose body is not JSON into a
// nonAPIAnswer, so that its status and Retry-After are classified.
func keepNonAPIAnswers(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	res, err := next(req)
	if err != nil || res.StatusCode < 400 {
		return res, err
	}
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if strings.Contains(mt, "json") {
		return res, nil
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	res.Body.Close()
	return nil, &nonAPIAnswer{status: res.StatusCode, header: res.Header, body: string(body)}
}

// batchParams builds one batch request. The SDK's field helper F lives in
// its root package, which would compile every Cloudflare service, so the
// fields are set directly.
func batchParams(zoneID string, creates, deletes []dns.Record) cfdns.RecordBatchParams {
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

// BatchSize is the most changes the adapter sends in one batch request.
func (c *Adapter) BatchSize() int { return c.batchSize }
