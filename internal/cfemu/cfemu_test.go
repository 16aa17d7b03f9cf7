package cfemu

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
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
		{nil, 400, 10000},
		{map[string]string{"Authorization": "Bearer nope"}, 403, 9109},
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
