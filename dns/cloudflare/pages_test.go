package cloudflare

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// TestCloudflare_ListFollowsTotalPages: an API that answers pages shorter
// than the per_page it echoes (a server-side cap below the asked size) is
// still listed to the last page its total_pages names.
func TestCloudflare_ListFollowsTotalPages(t *testing.T) {
	const perPage, pages = 2, 3
	var lists int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		var out map[string]any
		switch r.URL.Path {
		case "/zones":
			out = map[string]any{"success": true, "errors": []any{}, "messages": []any{},
				"result":      []any{map[string]any{"id": "z1", "name": "example.com", "status": "active", "name_servers": []string{}, "account": map[string]any{"id": "a1"}}},
				"result_info": map[string]any{"page": 1, "per_page": 20, "count": 1, "total_count": 1, "total_pages": 1}}
		case "/zones/z1/dns_records":
			lists++
			page, _ := strconv.Atoi(r.URL.Query().Get("page"))
			var recs []any
			if page <= pages {
				for i := range perPage {
					n := (page-1)*perPage + i + 1
					recs = append(recs, map[string]any{"id": fmt.Sprint(n), "name": "www.example.com", "type": "A", "content": fmt.Sprintf("192.0.2.%d", n), "ttl": 60})
				}
			}
			out = map[string]any{"success": true, "errors": []any{}, "messages": []any{}, "result": recs,
				// per_page echoes what was asked; the pages hold fewer
				"result_info": map[string]any{"page": page, "per_page": r.URL.Query().Get("per_page"), "count": len(recs), "total_count": perPage * pages, "total_pages": pages}}
		default:
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(out)
	}))
	defer srv.Close()
	cf, err := New(Options{BaseURL: srv.URL, Credentials: Credentials{Token: "t"}, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := cf.Records(context.Background(), "example.com", []string{"A"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != perPage*pages || lists != pages {
		t.Errorf("listed %d records in %d requests, want %d in %d (total_pages)", len(recs), lists, perPage*pages, pages)
	}
}
