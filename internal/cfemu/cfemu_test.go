package cfemu

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

func get(t *testing.T, s *Server, path string, hdr map[string]string) (*http.Response, envelope) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var env envelope
	if err := json.NewDecoder(res.Body).Decode(&env); err != nil {
		t.Fatalf("%s: body is not an envelope: %v", path, err)
	}
	return res, env
}

// TestWire checks what the emulator puts on the wire against the API
// reference: envelope, result_info, auth error codes and Retry-After.
func TestWire(t *testing.T) {
	s := New()
	defer s.Close()
	id := s.AddZone("example.com")
	for _, c := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		s.Seed("example.com", Record{Name: "www.example.com", Type: "A", Content: c})
	}
	auth := map[string]string{"Authorization": "Bearer " + s.Token}

	for _, tc := range []struct {
		hdr    map[string]string
		status int
		code   int
	}{
		{nil, 400, 9106},
		{map[string]string{"Authorization": "Bearer nope"}, 403, 9109},
		{map[string]string{"Authorization": "Bearer " + s.NoPermToken}, 403, 10000},
		{map[string]string{"Authorization": "Token x y"}, 400, 6003},
		{map[string]string{"X-Auth-Key": "bad", "X-Auth-Email": s.Email}, 403, 9103},
	} {
		res, env := get(t, s, "/client/v4/zones?name=example.com", tc.hdr)
		if res.StatusCode != tc.status || env.Success || len(env.Errors) != 1 || env.Errors[0].Code != tc.code || env.Result != nil {
			t.Errorf("auth %v: %d %+v, want %d code %d", tc.hdr, res.StatusCode, env, tc.status, tc.code)
		}
	}

	_, env := get(t, s, "/client/v4/zones/"+id+"/dns_records?type=A&per_page=2&page=2", auth)
	ri := env.ResultInfo
	if !env.Success || ri == nil || ri.Page != 2 || ri.PerPage != 2 || ri.Count != 1 || ri.TotalCount != 3 || ri.TotalPages != 2 {
		t.Errorf("page 2 of 3 records by 2: %+v", ri)
	}
	_, env = get(t, s, "/client/v4/zones/"+id+"/dns_records?page=9", auth)
	if rs, ok := env.Result.([]any); !env.Success || !ok || len(rs) != 0 {
		t.Errorf("page past the end: %+v, want success with an empty result", env)
	}
	_, env = get(t, s, "/client/v4/zones/"+id+"/dns_records?name.exact=www.example.com&content.exact=192.0.2.2", auth)
	if rs, _ := env.Result.([]any); len(rs) != 1 {
		t.Errorf("exact filters matched %d records, want 1", len(rs))
	}
	res, env := get(t, s, "/client/v4/zones/"+id+"/dns_records/"+strings.Repeat("0", 32), auth)
	if res.StatusCode != 404 || env.Errors[0].Code != 81044 {
		t.Errorf("unknown record: %d %+v", res.StatusCode, env)
	}

	s.Inject(Fault{Status: 429, RetryAfter: 3 * time.Second, Count: 1})
	res, _ = get(t, s, "/client/v4/zones", auth)
	if res.StatusCode != 429 || res.Header.Get("Retry-After") != "3" {
		t.Errorf("429: status %d Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if res, _ = get(t, s, "/client/v4/zones", auth); res.StatusCode != 200 {
		t.Errorf("fault did not clear after its count: %d", res.StatusCode)
	}
}

func post(t *testing.T, s *Server, path, body string) (*http.Response, envelope, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, envelope{}, err
	}
	defer res.Body.Close()
	var env envelope
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("%s: body is not an envelope: %v\n%s", path, err, b)
	}
	return res, env, nil
}

// TestConflictsAndLimits: CNAME conflicts answer 81053 and 81054, an
// identical record 81058, a batch over the plan's size is refused whole,
// and a failed batch changes nothing.
func TestConflictsAndLimits(t *testing.T) {
	s := New()
	defer s.Close()
	id := s.AddZone("example.com")
	s.Seed("example.com", Record{Name: "cdn.example.com", Type: "CNAME", Content: "cdn.example.net"})
	s.Seed("example.com", Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1"})
	path := "/client/v4/zones/" + id + "/dns_records"
	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"type":"A","name":"cdn.example.com","content":"192.0.2.9"}`, 81053},
		{`{"type":"AAAA","name":"cdn","content":"2001:db8::1"}`, 81053},
		{`{"type":"CNAME","name":"www.example.com","content":"x.example.net"}`, 81053},
		{`{"type":"CNAME","name":"cdn.example.com","content":"y.example.net"}`, 81054},
		{`{"type":"A","name":"www.example.com","content":"192.0.2.1"}`, 81058},
		{`{"type":"A","name":"www.example.com","content":"192.0.2.2","comment":"` + strings.Repeat("x", 101) + `"}`, 9101},
	} {
		res, env, err := post(t, s, path, tc.body)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 400 || len(env.Errors) != 1 || env.Errors[0].Code != tc.code {
			t.Errorf("%s: %d %+v, want 400 code %d", tc.body, res.StatusCode, env.Errors, tc.code)
		}
	}
	s.SetMaxBatch(2)
	before := s.Records("example.com")
	res, env, err := post(t, s, path+"/batch", `{"posts":[{"type":"A","name":"a","content":"192.0.2.5"},{"type":"A","name":"b","content":"192.0.2.6"},{"type":"A","name":"c","content":"192.0.2.7"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 400 || env.Errors[0].Code != 1004 || len(s.Records("example.com")) != len(before) {
		t.Errorf("batch over the limit: %d %+v", res.StatusCode, env.Errors)
	}
	res, env, err = post(t, s, path+"/batch", `{"posts":[{"type":"A","name":"a","content":"192.0.2.5"},{"type":"A","name":"cdn","content":"192.0.2.6"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 400 || env.Errors[0].Code != 81053 || len(s.Records("example.com")) != len(before) {
		t.Errorf("batch with a conflict: %d %+v, %d records", res.StatusCode, env.Errors, len(s.Records("example.com")))
	}
}

// TestFaultForms: Retry-After as seconds, milliseconds and an HTTP date;
// an HTML 5xx from the edge; an answer lost after the commit; and the held
// request count.
func TestFaultForms(t *testing.T) {
	s := New()
	defer s.Close()
	id := s.AddZone("example.com")
	auth := map[string]string{"Authorization": "Bearer " + s.Token}
	s.Inject(Fault{Status: 429, RetryAfter: 1500 * time.Millisecond, RetryAfterForm: "ms", Count: 1})
	if res, _ := get(t, s, "/client/v4/zones", auth); res.Header.Get("Retry-After-Ms") != "1500" {
		t.Errorf("Retry-After-Ms = %q", res.Header.Get("Retry-After-Ms"))
	}
	s.Inject(Fault{Status: 429, RetryAfter: 2 * time.Second, RetryAfterForm: "date", Count: 1})
	res, _ := get(t, s, "/client/v4/zones", auth)
	date, err1 := http.ParseTime(res.Header.Get("Date"))
	until, err2 := http.ParseTime(res.Header.Get("Retry-After"))
	if err1 != nil || err2 != nil || until.Sub(date) < 2*time.Second || until.Sub(date) > 3*time.Second {
		t.Errorf("Retry-After date %q with Date %q", res.Header.Get("Retry-After"), res.Header.Get("Date"))
	}

	s.Inject(Fault{Status: 502, HTML: true, Count: 1})
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/client/v4/zones", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	hres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(hres.Body)
	hres.Body.Close()
	if hres.StatusCode != 502 || !strings.HasPrefix(hres.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte("<title>502 Bad Gateway</title>")) {
		t.Errorf("HTML 502: %d %q %s", hres.StatusCode, hres.Header.Get("Content-Type"), body)
	}

	s.Inject(Fault{Method: http.MethodPost, LoseAnswer: true, Count: 1})
	if _, _, err := post(t, s, "/client/v4/zones/"+id+"/dns_records", `{"type":"A","name":"www","content":"192.0.2.1"}`); err == nil {
		t.Error("a lost answer reached the client")
	}
	if n := len(s.Records("example.com")); n != 1 {
		t.Errorf("the request whose answer was lost was not applied: %d records", n)
	}
	res2, env, err := post(t, s, "/client/v4/zones/"+id+"/dns_records", `{"type":"A","name":"www","content":"192.0.2.1"}`)
	if err != nil || res2.StatusCode != 400 || env.Errors[0].Code != 81058 {
		t.Errorf("the retry: %v %+v, want 81058", err, env.Errors)
	}

	s.Inject(Fault{Delay: time.Hour, Count: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // the client gives up; Close drops the held request
	go http.DefaultClient.Do(req.Clone(ctx))
	for deadline := time.Now().Add(10 * time.Second); s.Holding() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the delayed request is not reported as held")
		}
	}
}

// TestZoneFilters: the zone list filters by name, status and account, and
// lists the emulator's DNS address as the zone's nameservers.
func TestZoneFilters(t *testing.T) {
	s := New()
	defer s.Close()
	s.AddZoneWith("example.com", ZoneOptions{Status: "pending", Account: Account{ID: "a1", Name: "One"}})
	active := s.AddZoneWith("example.com", ZoneOptions{Account: Account{ID: "a2", Name: "Two"}})
	s.AddZoneWith("example.com", ZoneOptions{Account: Account{ID: "a3", Name: "Three"}})
	auth := map[string]string{"Authorization": "Bearer " + s.Token}
	for q, want := range map[string]int{"name=example.com": 3, "name=example.com&status=active": 2, "name=example.com&status=active&account.id=a2": 1, "name=example.org": 0} {
		_, env := get(t, s, "/client/v4/zones?"+q, auth)
		zs, _ := env.Result.([]any)
		if len(zs) != want {
			t.Errorf("%s: %d zones, want %d", q, len(zs), want)
		}
		if q == "name=example.com&status=active&account.id=a2" && len(zs) == 1 {
			z := zs[0].(map[string]any)
			ns, _ := z["name_servers"].([]any)
			if z["id"] != active || len(ns) != 1 || ns[0] != s.DNSAddr() {
				t.Errorf("zone %+v, want id %s and name_servers [%s]", z, active, s.DNSAddr())
			}
		}
	}
}

// TestDNSPropagation: the emulator answers over UDP and TCP from its
// records; a change through the API shows after the propagation delay, a
// seeded record at once.
func TestDNSPropagation(t *testing.T) {
	s := New()
	defer s.Close()
	id := s.AddZone("example.com")
	s.Seed("example.com", Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60})
	ask := func(net string) []string {
		c := &mdns.Client{Net: net, Timeout: 2 * time.Second}
		m := new(mdns.Msg)
		m.SetQuestion("www.example.com.", mdns.TypeA)
		r, _, err := c.Exchange(m, s.DNSAddr())
		if err != nil {
			t.Fatalf("%s query: %v", net, err)
		}
		if !r.Authoritative {
			t.Errorf("%s answer not authoritative", net)
		}
		var out []string
		for _, rr := range r.Answer {
			if a, ok := rr.(*mdns.A); ok {
				out = append(out, a.A.String())
			}
		}
		slices.Sort(out)
		return out
	}
	for _, n := range []string{"udp", "tcp"} {
		if got := ask(n); !slices.Equal(got, []string{"192.0.2.1"}) {
			t.Errorf("%s: %v", n, got)
		}
	}
	s.SetPropagationDelay(300 * time.Millisecond)
	if _, _, err := post(t, s, "/client/v4/zones/"+id+"/dns_records", `{"type":"A","name":"www","content":"192.0.2.2","ttl":60}`); err != nil {
		t.Fatal(err)
	}
	if got := ask("udp"); !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Errorf("before the delay: %v", got)
	}
	for deadline := time.Now().Add(10 * time.Second); !slices.Equal(ask("udp"), []string{"192.0.2.1", "192.0.2.2"}); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the created record never showed")
		}
	}
	for _, r := range s.Records("example.com") {
		if r.Content == "192.0.2.1" {
			s.Remove("example.com", r.ID)
		}
	}
	if got := ask("tcp"); !slices.Contains(got, "192.0.2.1") {
		t.Errorf("a deletion showed before the delay: %v", got)
	}
	for deadline := time.Now().Add(10 * time.Second); !slices.Equal(ask("tcp"), []string{"192.0.2.2"}); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the deleted record never left")
		}
	}
}
