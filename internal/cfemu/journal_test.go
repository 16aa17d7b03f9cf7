package cfemu

import (
	"net/http"
	"strings"
	"testing"
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
