package cfemu

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Record is a DNS record as the API returns it.
type Record struct {
	ID         string    `json:"id"`
	ZoneID     string    `json:"zone_id,omitempty"`
	Name       string    `json:"name"`
	Type       string    `json:"type"`
	Content    string    `json:"content"`
	Proxiable  bool      `json:"proxiable"`
	Proxied    bool      `json:"proxied"`
	TTL        int       `json:"ttl"`
	Comment    string    `json:"comment"`
	Tags       []string  `json:"tags"`
	CreatedOn  time.Time `json:"created_on"`
	ModifiedOn time.Time `json:"modified_on"`
}

type zone struct {
	id, name string
	status   string
	account  Account
	records  map[string]Record
	// For DNS answers with a propagation delay: when each record became
	// visible, and the records deleted, until when they stay visible.
	shown map[string]time.Time
	gone  []tomb
	// version counts the committed changes to the zone's records (API
	// writes and hand edits alike); the journal stamps it.
	version uint64
}

type tomb struct {
	rec       Record
	shownAt   time.Time
	deletedAt time.Time
}

// Account is the account a zone belongs to.
type Account struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ZoneOptions describe a zone beyond its name.
type ZoneOptions struct {
	Status  string  // "active" when empty; also "pending", "initializing", "moved"
	Account Account // a default account when empty
}

// Server is the emulator. Create one with New; it is safe for concurrent use.
type Server struct {
	*httptest.Server
	// Token is the API token the emulator accepts (Authorization: Bearer).
	Token string
	// Key and Email are the legacy global API key credentials it accepts.
	Key, Email string

	// NoPermToken is a token the emulator knows but that lacks the
	// permissions: every request with it answers 403 with code 10000.
	NoPermToken string

	mu       sync.Mutex
	zones    map[string]*zone // by id
	faults   []Fault
	extra    []*http.Server // servers started by Restart
	requests []Request
	maxPage  int
	maxBatch int
	holding  int // requests held by a Delay fault right now
	dns      *dnsServer
	journal  journal           // see journal.go
	tokens   map[string]string // more accepted tokens, to their labels (AddToken)
	quit     chan struct{}     // closed by Close: held requests are dropped
	quitOnce sync.Once
}

// Request is one request the emulator answered, for tests to inspect.
type Request struct {
	Method, Path, Query string
	Status              int
	At                  time.Time // when the request arrived
}

// Write reports whether the request changed (or tried to change) records.
func (r Request) Write() bool { return r.Method != http.MethodGet }

// Fault is an injected failure: the next Count requests (matching Method
// and ending in PathSuffix, where set) wait Delay, then are answered with
// Status (and Retry-After when set); with Status 0 they are served as
// usual after the delay, a slow API.
type Fault struct {
	Method     string
	PathSuffix string
	Status     int
	RetryAfter time.Duration
	// RetryAfterForm says how RetryAfter is sent: "" or "seconds"
	// (Retry-After: 3), "ms" (Retry-After-Ms: 3000) or "date" (Retry-After
	// as an HTTP date, with the answer's Date).
	RetryAfterForm string
	// HTML answers Status with an HTML page, as Cloudflare's edge does for
	// a 5xx from behind it, instead of the API's JSON envelope.
	HTML bool
	// LoseAnswer serves the request as usual (a write is committed) and
	// then drops the connection without answering: the client sees an
	// error and cannot know the change was made.
	LoseAnswer bool
	// Delay holds the request in transit before it reaches the store; it is
	// then served (and a write committed) whether or not its client is
	// still there, as the real API would (only Close drops it).
	Delay time.Duration
	Count int
	// Agent, when set, matches only requests that carry the token AddToken
	// gave that label; Body, when set, only requests whose body contains it.
	Agent, Body string
	// Taken, when set, is sent the time the fault took a request (without
	// blocking: give it room).
	Taken chan<- time.Time
	// Until, when set, holds the request until it is closed (or Delay,
	// when also set, has passed): a test releases a held write on an event.
	Until <-chan struct{}
}

// New starts an emulator on a loopback port, and its DNS server on another
// (see DNSAddr). Close it when done.
func New() *Server {
	s := newServer()
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	if err := s.serveDNS("127.0.0.1"); err != nil {
		panic("cfemu: serve DNS: " + err.Error())
	}
	return s
}

func newServer() *Server {
	return &Server{Token: "test-token-" + newID()[:8], NoPermToken: "test-readonly-" + newID()[:8], Key: "test-key", Email: "ops@example.com",
		zones: map[string]*zone{}, maxPage: 5_000_000, maxBatch: DefaultMaxBatch, tokens: map[string]string{}, quit: make(chan struct{})}
}

// DefaultMaxBatch is the most changes one batch may hold, as on
// Cloudflare's Free plan (3,500 on paid plans).
const DefaultMaxBatch = 200

// SetMaxBatch sets the most changes one batch may hold.
func (s *Server) SetMaxBatch(n int) { s.mu.Lock(); s.maxBatch = n; s.mu.Unlock() }

// Holding is how many requests a Delay fault holds right now: a test can
// wait for it instead of guessing with a sleep.
func (s *Server) Holding() int { s.mu.Lock(); defer s.mu.Unlock(); return s.holding }

// NewOn starts an emulator listening on addr (host:port; port 0 picks
// one), so that agents in network namespaces can reach it on a bridge.
func NewOn(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := newServer()
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Server.Listener.Close()
	s.Server.Listener = ln
	s.Server.Start()
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	if err := s.serveDNS(host); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Stop closes the listener, so requests are refused (the API is away);
// Restart listens again on the same address. State is kept.
func (s *Server) Stop() {
	s.Server.Listener.Close()
	s.Server.CloseClientConnections()
}

// Close stops the emulator, its DNS server and every server Restart
// started.
func (s *Server) Close() {
	s.quitOnce.Do(func() { close(s.quit) })
	s.closeDNS()
	for _, srv := range s.extra {
		srv.Close()
	}
	s.Server.Close()
}

// Restart serves again on the address Stop closed.
func (s *Server) Restart() error {
	ln, err := net.Listen("tcp", s.Server.Listener.Addr().String())
	if err != nil {
		return err
	}
	s.Server.Listener = ln
	srv := &http.Server{Handler: http.HandlerFunc(s.serve)}
	s.extra = append(s.extra, srv)
	go srv.Serve(ln)
	return nil
}

// BaseURL is the API base for the SDK's option.WithBaseURL or CLOUDFLARE_BASE_URL.
func (s *Server) BaseURL() string { return s.URL + "/client/v4/" }

// SetMaxPerPage caps per_page, so tests can force pagination.
func (s *Server) SetMaxPerPage(n int) { s.mu.Lock(); s.maxPage = n; s.mu.Unlock() }

// AddZone creates an active zone and returns its id.
func (s *Server) AddZone(name string) string { return s.AddZoneWith(name, ZoneOptions{}) }

// AddZoneWith creates a zone with a status and an account, and returns its
// id. Several zones may have the same name (in other accounts, or a
// pending copy).
func (s *Server) AddZoneWith(name string, o ZoneOptions) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.Status == "" {
		o.Status = "active"
	}
	if o.Account.ID == "" {
		o.Account = Account{ID: "0123456789abcdef0123456789abcdef", Name: "Test account"}
	}
	z := &zone{id: newID(), name: name, status: o.Status, account: o.Account, records: map[string]Record{}, shown: map[string]time.Time{}}
	s.zones[z.id] = z
	return z.id
}

// SetZoneStatus changes a zone's status (say, to "moved").
func (s *Server) SetZoneStatus(id, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zones[id].status = status
}

// DeleteZone removes a zone: requests with its id then answer 7003.
func (s *Server) DeleteZone(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.zones, id)
}

// Seed adds a record to a zone, bypassing the API (a hand edit).
func (s *Server) Seed(zoneName string, r Record) Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zoneByName(zoneName)
	r.ID, r.ZoneID, r.CreatedOn, r.ModifiedOn = newID(), z.id, time.Now().UTC(), time.Now().UTC()
	r.Proxiable = r.Type == "A" || r.Type == "AAAA" || r.Type == "CNAME"
	if r.TTL == 0 {
		r.TTL = 1
	}
	z.records[r.ID] = r
	z.shown[r.ID] = time.Time{} // a hand edit long ago: on the nameservers already
	z.version++
	return r
}

// Remove deletes a record by id, bypassing the API (a hand edit).
func (s *Server) Remove(zoneName, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zoneByName(zoneName)
	if _, ok := z.records[id]; ok {
		z.remove(id, time.Now())
		z.version++
	}
}

// Records returns a zone's records sorted by name, type and content.
func (s *Server) Records(zoneName string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sorted(s.zoneByName(zoneName).records)
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) { s.mu.Lock(); s.faults = append(s.faults, f); s.mu.Unlock() }

// ClearFaults drops every queued fault: from now on the API answers
// normally. It returns when it did so.
func (s *Server) ClearFaults() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	return time.Now()
}

// Requests returns every request answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetRequests forgets the request log.
func (s *Server) ResetRequests() { s.mu.Lock(); s.requests = nil; s.mu.Unlock() }

// zoneByName is the active zone of that name (else any of that name).
func (s *Server) zoneByName(name string) *zone {
	var any *zone
	for _, z := range s.zones {
		if z.name == name {
			if z.status == "active" {
				return z
			}
			any = z
		}
	}
	if any == nil {
		panic("cfemu: no zone " + name)
	}
	return any
}

func sorted(m map[string]Record) []Record {
	out := make([]Record, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.Content != b.Content {
			return a.Content < b.Content
		}
		return a.ID < b.ID
	})
	return out
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// apiError is one entry of the envelope's errors list.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type resultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

type envelope struct {
	Success    bool        `json:"success"`
	Errors     []apiError  `json:"errors"`
	Messages   []any       `json:"messages"`
	Result     any         `json:"result"`
	ResultInfo *resultInfo `json:"result_info,omitempty"`
}

// reply writes the envelope and logs the request.
type reply struct {
	w    http.ResponseWriter
	r    *http.Request
	s    *Server
	out  bool
	lose bool // the answer is lost: log it as status 0, write nothing
	at   time.Time
	jr   jreq // what the journal keeps of it (journal.go)
}

// log adds the request to the request log.
func (rp *reply) log(status int) {
	rp.out = true
	rp.s.mu.Lock()
	rp.s.requests = append(rp.s.requests, Request{Method: rp.r.Method, Path: rp.r.URL.Path, Query: rp.r.URL.RawQuery, Status: status, At: rp.at})
	rp.s.noteLocked(rp, rp.s.requests[len(rp.s.requests)-1])
	rp.s.mu.Unlock()
}

func (rp *reply) send(status int, result any, info *resultInfo, errs ...apiError) {
	if rp.out {
		return
	}
	if rp.lose {
		rp.log(0)
		return
	}
	rp.log(status)
	if errs == nil {
		errs = []apiError{}
	}
	rp.w.Header().Set("Content-Type", "application/json")
	rp.w.WriteHeader(status)
	json.NewEncoder(rp.w).Encode(envelope{Success: status < 300, Errors: errs, Messages: []any{}, Result: result, ResultInfo: info})
}

func (rp *reply) fail(status, code int, msg string) { rp.send(status, nil, nil, apiError{code, msg}) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rp := &reply{w: w, r: r, s: s, at: time.Now()}
	// The whole body is read on arrival: a held request is then served
	// even when its client has gone away meanwhile.
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.arrived(rp)
	if f, ok := s.takeFault(r, body); ok {
		if f.Delay > 0 || f.Until != nil {
			if !s.hold(f.Delay, f.Until, f.Taken) {
				return // the emulator is closing
			}
		} else {
			taken(f.Taken)
		}
		if f.Status != 0 {
			s.faultAnswer(rp, f)
			return
		}
		if f.LoseAnswer {
			rp.lose = true
			defer loseAnswer(w)
		}
	}
	if !s.authorized(rp) {
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/client/v4/")
	if !ok {
		rp.fail(404, 7000, "No route for that URI")
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "zones" && r.Method == http.MethodGet:
		s.listZones(rp)
	case len(parts) >= 3 && parts[0] == "zones" && parts[2] == "dns_records":
		s.mu.Lock()
		z := s.zones[parts[1]]
		s.mu.Unlock()
		if z == nil {
			rp.fail(404, 7003, "Could not route to /zones/"+parts[1]+", perhaps your object identifier is invalid?")
			return
		}
		switch {
		case len(parts) == 3 && r.Method == http.MethodGet:
			s.listRecords(rp, z)
		case len(parts) == 3 && r.Method == http.MethodPost:
			s.createRecord(rp, z)
		case len(parts) == 4 && parts[3] == "batch" && r.Method == http.MethodPost:
			s.batch(rp, z)
		case len(parts) == 4 && r.Method == http.MethodGet:
			s.getRecord(rp, z, parts[3])
		case len(parts) == 4 && r.Method == http.MethodDelete:
			s.deleteRecord(rp, z, parts[3])
		default:
			rp.fail(405, 10405, "Method not allowed")
		}
	default:
		rp.fail(404, 7000, "No route for that URI")
	}
}

// hold keeps a request in transit for d (or until until is closed),
// whether or not its client is still there; false if the emulator closed
// meanwhile.
func (s *Server) hold(d time.Duration, until <-chan struct{}, tell chan<- time.Time) bool {
	s.mu.Lock()
	s.holding++
	s.mu.Unlock()
	taken(tell) // once Holding counts it
	defer func() { s.mu.Lock(); s.holding--; s.mu.Unlock() }()
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return true
	case <-until:
		return true
	case <-s.quit:
		return false
	}
}

// taken tells a fault's Taken channel, if any, without blocking.
func taken(c chan<- time.Time) {
	if c == nil {
		return
	}
	select {
	case c <- time.Now():
	default:
	}
}

// faultAnswer answers with an injected failure status.
func (s *Server) faultAnswer(rp *reply, f Fault) {
	h := rp.w.Header()
	if f.RetryAfter > 0 {
		switch f.RetryAfterForm {
		case "ms":
			h.Set("Retry-After-Ms", strconv.FormatInt(f.RetryAfter.Milliseconds(), 10))
		case "date":
			now := time.Now().UTC()
			h.Set("Date", now.Format(http.TimeFormat))
			// HTTP dates have whole seconds: round up, never early.
			h.Set("Retry-After", now.Truncate(time.Second).Add(f.RetryAfter+time.Second-1).Truncate(time.Second).Format(http.TimeFormat))
		default:
			h.Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
		}
	}
	if f.HTML {
		rp.log(f.Status)
		h.Set("Content-Type", "text/html")
		rp.w.WriteHeader(f.Status)
		fmt.Fprintf(rp.w, "<html>\n<head><title>%d %s</title></head>\n<body>\n<center><h1>%d %s</h1></center>\n<hr><center>cloudflare</center>\n</body>\n</html>\n",
			f.Status, http.StatusText(f.Status), f.Status, http.StatusText(f.Status))
		return
	}
	rp.fail(f.Status, 10000+f.Status, http.StatusText(f.Status))
}

// loseAnswer drops the connection without the answer the handler wrote.
func loseAnswer(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func (s *Server) takeFault(r *http.Request, body []byte) (Fault, bool) {
	method, path := r.Method, r.URL.Path
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.faults {
		f := &s.faults[i]
		if f.Count > 0 && (f.Method == "" || f.Method == method) && strings.HasSuffix(path, f.PathSuffix) &&
			(f.Agent == "" || f.Agent == s.labelLocked(r)) && (f.Body == "" || bytes.Contains(body, []byte(f.Body))) {
			f.Count--
			out := *f
			if f.Count == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return out, true
		}
	}
	return Fault{}, false
}

// authorized checks the credentials the way Cloudflare answers them.
func (s *Server) authorized(rp *reply) bool {
	h := rp.r.Header
	if auth := h.Get("Authorization"); auth != "" {
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || tok == "" || strings.ContainsAny(tok, " \t") {
			rp.fail(400, 6003, "Invalid request headers")
			return false
		}
		if tok == s.NoPermToken {
			rp.fail(403, 10000, "Authentication error")
			return false
		}
		if tok != s.Token {
			s.mu.Lock()
			_, ok := s.tokens[tok]
			s.mu.Unlock()
			if !ok {
				rp.fail(403, 9109, "Invalid access token")
				return false
			}
		}
		return true
	}
	if key := h.Get("X-Auth-Key"); key != "" {
		if key != s.Key || h.Get("X-Auth-Email") != s.Email {
			rp.fail(403, 9103, "Unknown X-Auth-Key or X-Auth-Email")
			return false
		}
		return true
	}
	rp.fail(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
	return false
}

func (s *Server) listZones(rp *reply) {
	q := rp.r.URL.Query()
	name, status, account := q.Get("name"), q.Get("status"), q.Get("account.id")
	s.mu.Lock()
	out := []map[string]any{}
	for _, z := range s.zones {
		if (name == "" || z.name == name) && (status == "" || z.status == status) && (account == "" || z.account.ID == account) {
			out = append(out, map[string]any{"id": z.id, "name": z.name, "status": z.status, "account": z.account,
				"name_servers": s.nameServersLocked()})
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i]["id"].(string) < out[j]["id"].(string) })
	rp.send(200, out, &resultInfo{Page: 1, PerPage: 20, Count: len(out), TotalCount: len(out), TotalPages: 1})
}

func (s *Server) listRecords(rp *reply, z *zone) {
	q := rp.r.URL.Query()
	page, perPage := 1, 100
	if v := q.Get("page"); v != "" {
		p, err := strconv.ParseFloat(v, 64)
		if err != nil || p < 1 {
			rp.fail(400, 1004, "page must be a number >= 1")
			return
		}
		page = int(p)
	}
	if v := q.Get("per_page"); v != "" {
		p, err := strconv.ParseFloat(v, 64)
		if err != nil || p < 1 || p > 5_000_000 {
			rp.fail(400, 1004, "per_page must be a number from 1 to 5000000")
			return
		}
		perPage = int(p)
	}
	s.mu.Lock()
	perPage = min(perPage, s.maxPage)
	all := sorted(z.records)
	rp.jr.listVersion = z.version
	s.mu.Unlock()
	eq := func(field string) string {
		if v := q.Get(field + ".exact"); v != "" {
			return v
		}
		return q.Get(field)
	}
	typ, name, content := q.Get("type"), strings.ToLower(eq("name")), strings.ToLower(eq("content"))
	var match []Record
	for _, r := range all {
		if (typ == "" || r.Type == typ) && (name == "" || r.Name == name) && (content == "" || strings.ToLower(r.Content) == content) {
			match = append(match, r)
		}
	}
	total := len(match)
	pages := (total + perPage - 1) / perPage
	lo := min((page-1)*perPage, total)
	hi := min(lo+perPage, total)
	out := append([]Record{}, match[lo:hi]...)
	rp.jr.listed = out
	rp.send(200, out, &resultInfo{Page: page, PerPage: perPage, Count: len(out), TotalCount: total, TotalPages: pages})
}

func (s *Server) getRecord(rp *reply, z *zone, id string) {
	s.mu.Lock()
	r, ok := z.records[id]
	s.mu.Unlock()
	if !ok {
		rp.fail(404, 81044, "Record does not exist.")
		return
	}
	rp.send(200, r, nil)
}

// input is a record as a create or batch post sends it.
type input struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Content string   `json:"content"`
	TTL     *float64 `json:"ttl"`
	Proxied *bool    `json:"proxied"`
	Comment string   `json:"comment"`
	Tags    []string `json:"tags"`
}

// validate turns an input into a record of zone z, as Cloudflare would.
func validate(z *zone, in input) (Record, *apiError) {
	r := Record{ZoneID: z.id, Type: in.Type, Content: in.Content, Comment: in.Comment, Tags: in.Tags, TTL: 1}
	if r.Tags == nil {
		r.Tags = []string{}
	}
	name := strings.TrimSuffix(strings.ToLower(in.Name), ".")
	switch {
	case name == "":
		return r, &apiError{9005, "Content for A record is invalid. DNS record name is required."}
	case name == "@" || name == z.name:
		name = z.name
	case !strings.HasSuffix(name, "."+z.name):
		name += "." + z.name
	}
	r.Name = name
	addr, err := netip.ParseAddr(in.Content)
	switch in.Type {
	case "A":
		if err != nil || !addr.Is4() {
			return r, &apiError{9005, "Content for A record must be a valid IPv4 address."}
		}
	case "AAAA":
		if err != nil || !addr.Is6() || addr.Is4In6() {
			return r, &apiError{9006, "Content for AAAA record must be a valid IPv6 address."}
		}
		r.Content = addr.String()
	case "TXT", "CNAME":
	default:
		return r, &apiError{9000, "DNS record type is invalid."}
	}
	if in.TTL != nil {
		r.TTL = int(*in.TTL)
		if r.TTL != 1 && (r.TTL < 60 || r.TTL > 86400) {
			return r, &apiError{9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic."}
		}
	}
	r.Proxiable = in.Type != "TXT"
	if in.Proxied != nil && *in.Proxied {
		if !r.Proxiable {
			return r, &apiError{9004, "This record type cannot be proxied."}
		}
		r.Proxied, r.TTL = true, 1
	}
	if len(r.Comment) > 100 {
		return r, &apiError{9101, "DNS record comment is too long (max 100 characters)."}
	}
	return r, nil
}

// conflict is the error Cloudflare gives for creating r beside recs: an
// identical record (81058), an A, AAAA or CNAME where a CNAME has the name,
// or a CNAME where an A or AAAA has it (81053), a CNAME beside a CNAME
// (81054).
func conflict(recs map[string]Record, r Record) *apiError {
	for _, o := range recs {
		if o.Name != r.Name {
			continue
		}
		switch {
		case o.Type == r.Type && strings.EqualFold(o.Content, r.Content):
			return &apiError{81058, "An identical record already exists."}
		case o.Type == "CNAME" && r.Type == "CNAME":
			return &apiError{81054, "A CNAME record with that host already exists."}
		case o.Type == "CNAME" && (r.Type == "A" || r.Type == "AAAA"),
			r.Type == "CNAME" && (o.Type == "A" || o.Type == "AAAA"):
			return &apiError{81053, "An A, AAAA, or CNAME record with that host already exists."}
		}
	}
	return nil
}

// remove deletes a record, keeping it visible to DNS until the
// propagation delay has passed.
func (z *zone) remove(id string, now time.Time) {
	r, ok := z.records[id]
	if !ok {
		return
	}
	z.gone = append(z.gone, tomb{rec: r, shownAt: z.shown[id], deletedAt: now})
	delete(z.records, id)
	delete(z.shown, id)
}

func decode(rp *reply, v any) bool {
	dec := json.NewDecoder(rp.r.Body)
	if err := dec.Decode(v); err != nil {
		rp.fail(400, 9207, "Request body is invalid: "+err.Error())
		return false
	}
	return true
}

func (s *Server) createRecord(rp *reply, z *zone) {
	var in input
	if !decode(rp, &in) {
		return
	}
	r, e := validate(z, in)
	if e == nil {
		s.mu.Lock()
		if e = conflict(z.records, r); e == nil {
			r.ID, r.CreatedOn = newID(), time.Now().UTC()
			r.ModifiedOn = r.CreatedOn
			z.records[r.ID] = r
			z.shown[r.ID] = r.CreatedOn
			z.version++
			s.committedLocked(rp, z, nil, []Record{r})
		}
		s.mu.Unlock()
	}
	if e != nil {
		rp.fail(400, e.Code, e.Message)
		return
	}
	rp.send(200, r, nil)
}

func (s *Server) deleteRecord(rp *reply, z *zone, id string) {
	s.mu.Lock()
	old, ok := z.records[id]
	if ok {
		z.remove(id, time.Now())
		z.version++
		s.committedLocked(rp, z, []Record{old}, nil)
	}
	s.mu.Unlock()
	if !ok {
		rp.fail(404, 81044, "Record does not exist.")
		return
	}
	rp.send(200, map[string]string{"id": id}, nil)
}

// batch runs deletes, patches, puts, then posts in one transaction: any
// failure (a delete, patch or put of an id that does not exist answers 404
// with 81044) leaves the zone as it was.
func (s *Server) batch(rp *reply, z *zone) {
	var body struct {
		Deletes []struct {
			ID string `json:"id"`
		} `json:"deletes"`
		Posts   []input           `json:"posts"`
		Patches []json.RawMessage `json:"patches"`
		Puts    []json.RawMessage `json:"puts"`
	}
	if !decode(rp, &body) {
		return
	}
	s.mu.Lock()
	limit := s.maxBatch
	s.mu.Unlock()
	if n := len(body.Deletes) + len(body.Patches) + len(body.Puts) + len(body.Posts); n > limit {
		rp.fail(400, 1004, fmt.Sprintf("Batch of %d record changes exceeds the limit of %d for this zone's plan.", n, limit))
		return
	}
	s.mu.Lock()
	res, status, e := applyBatch(z, body.Deletes, body.Patches, body.Puts, body.Posts)
	deleted, posted := res.deletes, res.posts
	if e == nil && len(deleted)+len(res.patches)+len(res.puts)+len(posted) > 0 {
		z.version++
		s.committedLocked(rp, z, deleted, posted)
		if n := rp.jr.entry; n > 0 {
			s.journal.entries[n-1].Changed = append(slices.Clone(res.patches), res.puts...)
		}
	}
	s.mu.Unlock()
	if e != nil {
		rp.fail(status, e.Code, e.Message)
		return
	}
	if deleted == nil {
		deleted = []Record{}
	}
	if posted == nil {
		posted = []Record{}
	}
	rp.send(200, map[string][]Record{"deletes": deleted, "posts": posted, "patches": nonNil(res.patches), "puts": nonNil(res.puts)}, nil)
}

// String summarises a record for test messages.
func (r Record) String() string { return fmt.Sprintf("%s %s %s", r.Name, r.Type, r.Content) }
