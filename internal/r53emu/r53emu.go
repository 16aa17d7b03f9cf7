package r53emu

import (
	"bytes"
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// Server is a running emulator. Its URL is the endpoint for the SDK
// (route53.Options.BaseEndpoint, or AWS_ENDPOINT_URL_ROUTE_53).
type Server struct {
	*httptest.Server

	// AccessKeyID and SecretAccessKey are a key the emulator accepts
	// (journaled with the agent label "").
	AccessKeyID, SecretAccessKey string

	mu       sync.Mutex
	zones    map[string]*zone     // by id
	keys     map[string]accessKey // by access key id
	changes  map[string]time.Time // change id -> submitted
	maxItems int
	faults   []Fault
	requests []Request
	holding  int
	journal  journal
	dns      *dnsServer
	delay    time.Duration // propagation: INSYNC and DNS answers after it
	rate     int           // SetRateLimit: requests admitted per second, 0 for no limit
	admitted []time.Time   // arrivals of the requests admitted in the last second

	quit     chan struct{}
	quitOnce sync.Once
}

type accessKey struct{ secret, label string }

// Request is one request the emulator answered, for tests to inspect.
type Request struct {
	Method, Path, Query string
	Status              int       // 0 when the answer was lost
	Code                string    // the error code answered, "" for success
	At                  time.Time // arrival
}

// Write reports whether the request was a change batch.
func (r Request) Write() bool { return r.Method == http.MethodPost }

// Fault is an injected failure: the next Count requests matching Method
// and containing PathContains (where set) are held for Delay (or until
// Until is closed), then answered with Status and Code (400 Throttling,
// 400 PriorRequestNotComplete, 503 ServiceUnavailable...), or, with Status
// 0, served as usual; LoseAnswer serves the request and then drops the
// connection without an answer.
type Fault struct {
	Method       string
	PathContains string
	Status       int
	Code         string
	LoseAnswer   bool
	Delay        time.Duration
	Until        <-chan struct{}
	Count        int
	// Agent, when set, matches only requests signed with the key AddKey
	// gave that label.
	Agent string
	// Taken, when set, is sent the arrival time of the request the fault
	// took (without blocking: give it room for one).
	Taken chan<- time.Time
}

// New starts an emulator on a loopback port, and its DNS server on another.
func New() *Server {
	s := newServer()
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	if err := s.serveDNS("127.0.0.1"); err != nil {
		panic("r53emu: serve DNS: " + err.Error())
	}
	return s
}

// NewOn starts an emulator listening on addr (host:port; port 0 picks one),
// its DNS server on the same host.
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

func newServer() *Server {
	s := &Server{AccessKeyID: "AKIAEMULATOR" + strings.ToUpper(newID(8)), SecretAccessKey: newID(40),
		zones: map[string]*zone{}, keys: map[string]accessKey{}, changes: map[string]time.Time{},
		maxItems: 300, quit: make(chan struct{})}
	s.keys[s.AccessKeyID] = accessKey{secret: s.SecretAccessKey}
	return s
}

// Close stops the emulator and its DNS server; held requests are dropped.
func (s *Server) Close() {
	s.quitOnce.Do(func() { close(s.quit) })
	s.closeDNS()
	s.Server.Close()
}

// newID is n random characters of Route 53's id alphabet.
func newID(n int) string {
	const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = abc[int(b[i])%len(abc)]
	}
	return string(b)
}

// AddKey makes the emulator accept one more access key, and returns its id
// and secret; the journal names its requests' sender by label.
func (s *Server) AddKey(label string) (id, secret string) {
	id, secret = "AKIA"+newID(16), newID(40)
	s.mu.Lock()
	s.keys[id] = accessKey{secret: secret, label: label}
	s.mu.Unlock()
	return id, secret
}

// SetMaxItems caps a listing's page (300 in Route 53), so tests force pages.
func (s *Server) SetMaxItems(n int) { s.mu.Lock(); s.maxItems = n; s.mu.Unlock() }

// SetPropagationDelay sets how long a change stays PENDING (and unseen by
// the DNS server) before it is INSYNC.
func (s *Server) SetPropagationDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// AddZone creates a hosted zone and returns its id (without "/hostedzone/").
func (s *Server) AddZone(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := &zone{id: "Z" + newID(20), name: CanonicalName(name), sets: map[Key]*held{}}
	s.zones[z.id] = z
	return z.id
}

// Seed puts a set into a zone, bypassing the API (a hand edit long ago:
// served by DNS at once).
func (s *Server) Seed(zoneName string, r RRSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zoneByName(zoneName)
	r.Name, r.Type = CanonicalName(r.Name), strings.ToUpper(r.Type)
	z.sets[r.Key()] = &held{set: r}
	z.version++
}

// Sets returns a zone's sets in Route 53's order.
func (s *Server) Sets(zoneName string) []RRSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.zoneByName(zoneName).sorted()
}

// Version is a zone's version: how many batches (and hand edits) changed it.
func (s *Server) Version(zoneName string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.zoneByName(zoneName).version
}

// zoneByName is the public zone of that name (a private one of the same
// name is reached by its id only).
func (s *Server) zoneByName(name string) *zone {
	name = CanonicalName(name)
	for _, z := range s.zones {
		if z.name == name && !z.private {
			return z
		}
	}
	panic("r53emu: no zone " + name)
}

// AddPrivateZone creates a private hosted zone (for VPCs) and returns its
// id: ListHostedZonesByName lists it beside a public zone of the same
// name; Seed and Sets reach the public one.
func (s *Server) AddPrivateZone(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := &zone{id: "Z" + newID(20), name: CanonicalName(name), sets: map[Key]*held{}, private: true}
	s.zones[z.id] = z
	return z.id
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) { s.mu.Lock(); s.faults = append(s.faults, f); s.mu.Unlock() }

// Holding is how many requests a fault holds in transit right now.
func (s *Server) Holding() int { s.mu.Lock(); defer s.mu.Unlock(); return s.holding }

// Requests returns every request answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// ResetRequests forgets the request log.
func (s *Server) ResetRequests() { s.mu.Lock(); s.requests = nil; s.mu.Unlock() }

// takeFault returns the first queued fault that matches r, using it up.
func (s *Server) takeFault(r *http.Request, agent string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Method != "" && f.Method != r.Method || f.PathContains != "" && !strings.Contains(r.URL.Path, f.PathContains) || f.Agent != "" && f.Agent != agent {
			continue
		}
		if f.Count <= 1 {
			s.faults = slices.Delete(s.faults, i, i+1)
		} else {
			s.faults[i].Count--
		}
		return f, true
	}
	return Fault{}, false
}

// hold keeps a request in transit; false if the emulator closed meanwhile.
func (s *Server) hold(d time.Duration, until <-chan struct{}) bool {
	s.mu.Lock()
	s.holding++
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.holding--; s.mu.Unlock() }()
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
	case <-until:
	case <-s.quit:
		return false
	}
	return true
}

// reply is one request being served.
type reply struct {
	w     http.ResponseWriter
	r     *http.Request
	body  []byte
	at    time.Time
	agent string
	lose  bool
	jr    jreq
}

const apiPrefix = "/2013-04-01/"

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rp := &reply{w: w, r: r, at: time.Now()}
	rp.body, _ = io.ReadAll(r.Body) // read on arrival: a held request is served even if its client left
	agent, authErr := s.authenticate(r, rp.body)
	rp.agent = agent
	s.arrived(rp)
	if f, ok := s.takeFault(r, agent); ok {
		if f.Taken != nil {
			select {
			case f.Taken <- rp.at:
			default:
			}
		}
		if (f.Delay > 0 || f.Until != nil) && !s.hold(f.Delay, f.Until) {
			return
		}
		if f.Status != 0 {
			s.fail(rp, f.Status, f.Code, "Injected fault: "+f.Code)
			return
		}
		rp.lose = f.LoseAnswer
	}
	if authErr != nil {
		s.fail(rp, http.StatusForbidden, authErr.code, authErr.msg)
		return
	}
	if !s.admit(rp.at) {
		s.fail(rp, http.StatusBadRequest, "Throttling", "Rate exceeded")
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, apiPrefix)
	if !ok {
		s.fail(rp, http.StatusNotFound, "UnknownOperationException", "No such operation: "+r.URL.Path)
		return
	}
	parts := strings.Split(strings.TrimSuffix(path, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "hostedzonesbyname" && r.Method == http.MethodGet:
		s.listZonesByName(rp)
	case len(parts) == 2 && parts[0] == "change" && r.Method == http.MethodGet:
		s.getChange(rp, parts[1])
	case len(parts) >= 2 && parts[0] == "hostedzone":
		s.mu.Lock()
		z := s.zones[parts[1]]
		s.mu.Unlock()
		if z == nil {
			s.fail(rp, http.StatusNotFound, "NoSuchHostedZone", "No hosted zone found with ID: "+parts[1])
			return
		}
		switch {
		case len(parts) == 2 && r.Method == http.MethodGet:
			s.getZone(rp, z)
		case len(parts) == 3 && parts[2] == "rrset" && r.Method == http.MethodGet:
			s.listSets(rp, z)
		case len(parts) == 3 && parts[2] == "rrset" && r.Method == http.MethodPost:
			s.changeSets(rp, z)
		default:
			s.fail(rp, http.StatusNotFound, "UnknownOperationException", "No such operation: "+r.Method+" "+r.URL.Path)
		}
	default:
		s.fail(rp, http.StatusNotFound, "UnknownOperationException", "No such operation: "+r.Method+" "+r.URL.Path)
	}
}

const xmlns = "https://route53.amazonaws.com/doc/2013-04-01/"

// answer writes v as the XML body with status 200 (unless the answer is
// to be lost) and logs the request.
func (s *Server) answer(rp *reply, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		s.fail(rp, http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	s.finish(rp, http.StatusOK, "", append([]byte(xml.Header), body...))
}

// errorResponse is Route 53's error body.
type errorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

func (s *Server) fail(rp *reply, status int, code, msg string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	body, _ := xml.Marshal(errorResponse{Xmlns: xmlns, Type: typ, Code: code, Message: msg, RequestID: requestID()})
	s.finish(rp, status, code, append([]byte(xml.Header), body...))
}

// invalidChangeBatch is Route 53's body for a refused batch (its own root
// element, which the SDK's customization reads).
type invalidChangeBatch struct {
	XMLName   xml.Name `xml:"InvalidChangeBatch"`
	Xmlns     string   `xml:"xmlns,attr"`
	Messages  []string `xml:"Messages>Message"`
	RequestID string   `xml:"RequestId"`
}

func (s *Server) refuseBatch(rp *reply, msgs []string) {
	body, _ := xml.Marshal(invalidChangeBatch{Xmlns: xmlns, Messages: msgs, RequestID: requestID()})
	s.finish(rp, http.StatusBadRequest, "InvalidChangeBatch", append([]byte(xml.Header), body...))
}

func requestID() string {
	id := strings.ToLower(newID(32))
	return fmt.Sprintf("%s-%s-%s-%s-%s", id[:8], id[8:12], id[12:16], id[16:20], id[20:])
}

// finish sends the answer (or loses it) and logs the request.
func (s *Server) finish(rp *reply, status int, code string, body []byte) {
	req := Request{Method: rp.r.Method, Path: rp.r.URL.Path, Query: rp.r.URL.RawQuery, Status: status, Code: code, At: rp.at}
	if rp.lose {
		req.Status = 0
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.noteLocked(rp, req)
	s.mu.Unlock()
	if rp.lose {
		if hj, ok := rp.w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	rp.w.Header().Set("Content-Type", "text/xml")
	rp.w.Header().Set("X-Amzn-Requestid", requestID())
	rp.w.WriteHeader(status)
	_, _ = io.Copy(rp.w, bytes.NewReader(body))
}

// SetRateLimit makes the emulator answer 400 Throttling ("Rate exceeded")
// to a request arriving when n others were admitted in the second before
// it, as Route 53 does above its 5 requests per second per account (every
// key of the emulator is one account). 0 turns the limit off.
func (s *Server) SetRateLimit(n int) { s.mu.Lock(); s.rate = n; s.admitted = nil; s.mu.Unlock() }

// admit reports whether a request arriving at may be served under the rate
// limit, and counts it if so.
func (s *Server) admit(at time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rate <= 0 {
		return true
	}
	s.admitted = slices.DeleteFunc(s.admitted, func(t time.Time) bool { return at.Sub(t) >= time.Second })
	if len(s.admitted) >= s.rate {
		return false
	}
	s.admitted = append(s.admitted, at)
	return true
}
