package cfemu

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestJournal: once started, every request is kept with its source address,
// and a write with every zone as it was right after it.
func TestJournal(t *testing.T) {
	s := New()
	defer s.Close()
	id := s.AddZone("example.com")
	r := s.Seed("example.com", Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1"})
	do := func(method, path, body string) {
		req, _ := http.NewRequest(method, s.URL+"/client/v4/zones/"+id+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	do(http.MethodGet, "/dns_records", "")
	s.StartJournal()
	do(http.MethodGet, "/dns_records", "")
	do(http.MethodPost, "/dns_records/batch", `{"deletes":[{"id":"`+r.ID+`"}],"posts":[{"type":"A","name":"www.example.com","content":"192.0.2.2","ttl":60}]}`)
	j := s.Journal()
	if len(j) != 2 {
		t.Fatalf("journal has %d entries, want the 2 after StartJournal", len(j))
	}
	if j[0].Write() || j[0].Zones != nil || j[0].From.String() != "127.0.0.1" {
		t.Errorf("read entry = %+v", j[0])
	}
	z := j[1].Zones["example.com"]
	if !j[1].Write() || j[1].Status != 200 || len(z) != 1 || z[0].Content != "192.0.2.2" || j[1].From.String() != "127.0.0.1" {
		t.Errorf("write entry = %+v", j[1])
	}
}

// do sends one request with token tok and returns the status (0 when the
// client gave up or the answer was lost).
func do(t *testing.T, ctx context.Context, s *Server, tok, method, path, body string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, method, s.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// committed is the journal's committed writes.
func committed(s *Server) []Entry {
	var out []Entry
	for _, e := range s.Journal() {
		if e.Committed {
			out = append(out, e)
		}
	}
	return out
}

// TestHeldWriteCommitsWithoutItsClient: a write held in transit is
// committed when the hold ends even though its client gave up (and closed
// its connection) long before, as the real API would; the journal stamps
// its arrival, its commit, the versions at both, the token's label, and
// what it created. Before the fix the emulator dropped it.
func TestHeldWriteCommitsWithoutItsClient(t *testing.T) {
	s := New()
	defer s.Close()
	id := s.AddZone("example.com")
	s.StartJournal()
	tokA, tokB := s.AddToken("a#1"), s.AddToken("b#1")
	taken := make(chan time.Time, 1)
	s.Inject(Fault{Method: http.MethodPost, PathSuffix: "/batch", Agent: "a#1", Body: "192.0.2.7", Delay: 500 * time.Millisecond, Count: 1, Taken: taken})
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan int)
	go func() {
		gone <- do(t, ctx, s, tokA, http.MethodPost, "/client/v4/zones/"+id+"/dns_records/batch", `{"posts":[{"type":"A","name":"www","content":"192.0.2.7"}]}`)
	}()
	<-taken
	cancel() // the client goes away while its request is held
	if st := <-gone; st != 0 {
		t.Fatalf("the client got an answer (%d) for a request held in transit", st)
	}
	// Another writer commits meanwhile: the held write lands on its change.
	if st := do(t, context.Background(), s, tokB, http.MethodPost, "/client/v4/zones/"+id+"/dns_records", `{"type":"A","name":"www","content":"192.0.2.8"}`); st != 200 {
		t.Fatalf("create: %d", st)
	}
	for deadline := time.Now().Add(10 * time.Second); len(committed(s)) < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the held write never committed: %+v", s.Journal())
		}
	}
	cs := committed(s)
	b, a := cs[0], cs[1]
	if b.Agent != "b#1" || b.Base != 0 || b.Version != 1 || len(b.Created) != 1 {
		t.Errorf("b's write: %+v", b)
	}
	if a.Agent != "a#1" || a.ArrivalVersion != 0 || a.Base != 1 || a.Version != 2 || len(a.Created) != 1 || a.Created[0].Content != "192.0.2.7" {
		t.Errorf("the held write: agent %q arrival version %d base %d version %d created %v", a.Agent, a.ArrivalVersion, a.Base, a.Version, a.Created)
	}
	if d := a.CommitAt.Sub(a.At); d < 500*time.Millisecond {
		t.Errorf("the held write committed %s after it arrived, want the hold of 500ms", d)
	}
	if n := len(s.Records("example.com")); n != 2 {
		t.Errorf("%d records, want both writes", n)
	}

	// Until: held until the test releases it, then committed.
	release := make(chan struct{})
	s.Inject(Fault{Method: http.MethodDelete, Until: release, Count: 1, Taken: taken})
	go do(t, context.Background(), s, tokA, http.MethodDelete, "/client/v4/zones/"+id+"/dns_records/"+a.Created[0].ID, "")
	<-taken
	if n := len(committed(s)); n != 2 || s.Holding() != 1 {
		t.Fatalf("before the release: %d commits, %d held", n, s.Holding())
	}
	close(release)
	for deadline := time.Now().Add(10 * time.Second); len(committed(s)) < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the released delete never committed")
		}
	}
}

// TestBatchMissingDeleteFailsWhole: a batch whose delete names an id that
// no longer exists fails whole with 404 and 81044, and nothing of it is
// applied (its other delete and its post neither); the zone's version does
// not move and the journal shows it as not committed. Deletes run before
// posts: a post identical to a record deleted in the same batch is fine.
func TestBatchMissingDeleteFailsWhole(t *testing.T) {
	s := New()
	defer s.Close()
	id := s.AddZone("example.com")
	r1 := s.Seed("example.com", Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1"})
	s.StartJournal()
	path := "/client/v4/zones/" + id + "/dns_records/batch"
	res, env, err := post(t, s, path, `{"deletes":[{"id":"`+r1.ID+`"},{"id":"`+strings.Repeat("f", 32)+`"}],"posts":[{"type":"A","name":"www","content":"192.0.2.2"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 404 || len(env.Errors) != 1 || env.Errors[0].Code != 81044 {
		t.Errorf("stale delete: %d %+v, want 404 code 81044", res.StatusCode, env.Errors)
	}
	if rs := s.Records("example.com"); len(rs) != 1 || rs[0].ID != r1.ID {
		t.Errorf("a refused batch changed the zone: %v", rs)
	}
	if j := s.Journal(); len(j) != 1 || j[0].Committed || j[0].Status != 404 || j[0].ArrivalVersion != 1 {
		t.Errorf("journal of a refused batch: %+v", j)
	}
	res, _, err = post(t, s, path, `{"deletes":[{"id":"`+r1.ID+`"}],"posts":[{"type":"A","name":"www","content":"192.0.2.1"}]}`)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("delete and re-post in one batch: %v %v", err, res)
	}
	cs := committed(s)
	if len(cs) != 1 || cs[0].Base != 1 || cs[0].Version != 2 || len(cs[0].Deleted) != 1 || cs[0].Deleted[0].ID != r1.ID || len(cs[0].Created) != 1 {
		t.Errorf("journal of the batch: %+v", cs)
	}
}

// TestJournalListings: every listing page is journaled with the version
// it was served at, its records and the page, under the asker's label.
func TestJournalListings(t *testing.T) {
	s := New()
	defer s.Close()
	id := s.AddZone("example.com")
	s.Seed("example.com", Record{Name: "a.example.com", Type: "A", Content: "192.0.2.1"})
	s.Seed("example.com", Record{Name: "b.example.com", Type: "A", Content: "192.0.2.2"})
	s.StartJournal()
	tok := s.AddToken("x#2")
	do(t, context.Background(), s, tok, http.MethodGet, "/client/v4/zones/"+id+"/dns_records?per_page=1&page=2", "")
	do(t, context.Background(), s, s.Token, http.MethodGet, "/client/v4/zones", "")
	j := s.Journal()
	if len(j) != 2 {
		t.Fatalf("journal: %+v", j)
	}
	l := j[0]
	if !l.List || l.Agent != "x#2" || l.Zone != "example.com" || l.Version != 2 || l.Page != 2 || len(l.Listed) != 1 || l.Listed[0].Name != "b.example.com" {
		t.Errorf("listing entry: %+v", l)
	}
	if j[1].List || j[1].Agent != "" {
		t.Errorf("zone lookup entry: %+v", j[1])
	}
}

// TestBatchOrderPatchesPuts: a batch runs deletes, patches (only the
// fields sent change), puts (the record replaced, id kept), then posts;
// a patch or put of an id that is gone (deleted earlier in the same batch
// too) fails the whole batch with 81044, as does a patch that collides.
func TestBatchOrderPatchesPuts(t *testing.T) {
	s := New()
	defer s.Close()
	id := s.AddZone("example.com")
	r1 := s.Seed("example.com", Record{Name: "a.example.com", Type: "A", Content: "192.0.2.1", TTL: 300})
	r2 := s.Seed("example.com", Record{Name: "b.example.com", Type: "A", Content: "192.0.2.2", TTL: 300, Comment: "old"})
	r3 := s.Seed("example.com", Record{Name: "c.example.com", Type: "A", Content: "192.0.2.3", TTL: 300})
	s.StartJournal()
	path := "/client/v4/zones/" + id + "/dns_records/batch"
	before := s.Records("example.com")
	for _, tc := range []struct {
		body   string
		status int
		code   int
	}{
		{`{"deletes":[{"id":"` + r1.ID + `"}],"patches":[{"id":"` + r1.ID + `","comment":"x"}]}`, 404, 81044},
		{`{"puts":[{"id":"` + strings.Repeat("e", 32) + `","type":"A","name":"d","content":"192.0.2.4"}]}`, 404, 81044},
		{`{"deletes":[{"id":"` + r3.ID + `"}],"patches":[{"id":"` + r2.ID + `","name":"a","content":"192.0.2.1"}]}`, 400, 81058},
	} {
		res, env, err := post(t, s, path, tc.body)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != tc.status || len(env.Errors) != 1 || env.Errors[0].Code != tc.code {
			t.Errorf("%s: %d %+v, want %d code %d", tc.body, res.StatusCode, env.Errors, tc.status, tc.code)
		}
		if got := s.Records("example.com"); !slices.EqualFunc(got, before, func(a, b Record) bool { return a.ID == b.ID && a.Content == b.Content && a.Comment == b.Comment }) {
			t.Errorf("%s: a refused batch changed the zone: %v", tc.body, got)
		}
	}
	// The post takes a's name and address, free only once the delete ran.
	res, env, err := post(t, s, path, `{"deletes":[{"id":"`+r1.ID+`"}],"patches":[{"id":"`+r2.ID+`","comment":"new"}],`+
		`"puts":[{"id":"`+r3.ID+`","type":"A","name":"c","content":"192.0.2.33","ttl":60}],"posts":[{"type":"A","name":"a","content":"192.0.2.1"}]}`)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("batch: %v %+v", err, env.Errors)
	}
	got := map[string]Record{}
	for _, r := range s.Records("example.com") {
		got[r.Name] = r
	}
	if b := got["b.example.com"]; b.ID != r2.ID || b.Comment != "new" || b.TTL != 300 || b.Content != "192.0.2.2" {
		t.Errorf("patched: %+v", b)
	}
	if c := got["c.example.com"]; c.ID != r3.ID || c.Content != "192.0.2.33" || c.TTL != 60 {
		t.Errorf("put: %+v", c)
	}
	if a := got["a.example.com"]; a.ID == r1.ID || a.Content != "192.0.2.1" {
		t.Errorf("posted: %+v", a)
	}
	cs := committed(s)
	if len(cs) != 1 || len(cs[0].Deleted) != 1 || len(cs[0].Changed) != 2 || len(cs[0].Created) != 1 || cs[0].Base != 3 {
		t.Errorf("journal: %+v", cs)
	}
	if m, _ := env.Result.(map[string]any); m == nil || len(m["patches"].([]any)) != 1 || len(m["puts"].([]any)) != 1 {
		t.Errorf("result: %+v", env.Result)
	}
}
