package dns

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/internal/cfemu"
)

func newEmu(t *testing.T) (*cfemu.Server, *Cloudflare) {
	t.Helper()
	emu := cfemu.New()
	t.Cleanup(emu.Close)
	emu.AddZone("example.com")
	emu.AddZone("example.net")
	cf, err := NewCloudflare(CloudflareOptions{BaseURL: emu.BaseURL(), Credentials: Credentials{Token: emu.Token}, BatchSize: 200, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return emu, cf
}

func TestCloudflare_ListPaginatesAndFiltersByType(t *testing.T) {
	emu, cf := newEmu(t)
	for i := 0; i < 23; i++ {
		emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: fmt.Sprintf("192.0.2.%d", i+1)})
	}
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "TXT", Content: "v=spf1 -all"})
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "AAAA", Content: "2001:db8::1"})
	emu.SetMaxPerPage(5)
	emu.ResetRequests()
	recs, err := cf.Records(context.Background(), "example.com", []string{"A"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 23 {
		t.Fatalf("listed %d A records, want 23 across pages", len(recs))
	}
	for _, r := range recs {
		if r.Type != "A" || r.ID == "" || r.Name != "www.example.com" {
			t.Errorf("unexpected record %+v", r)
		}
	}
	var lists int
	for _, r := range emu.Requests() {
		if strings.HasSuffix(r.Path, "/dns_records") {
			lists++
			if !strings.Contains(r.Query, "type=A") {
				t.Errorf("list without type filter: %s", r.Query)
			}
		}
	}
	if lists != 5 { // 5+5+5+5+3: the short fifth page ends it, no empty sixth request
		t.Errorf("%d list requests, want 5", lists)
	}
}

func TestCloudflare_ZoneIDIsCached(t *testing.T) {
	emu, cf := newEmu(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := cf.Records(ctx, "example.com", []string{"A"}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, r := range emu.Requests() {
		if r.Path == "/client/v4/zones" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("zone looked up %d times, want 1", n)
	}
}

func TestCloudflare_ApplyBatchesCreatesAndDeletes(t *testing.T) {
	emu, cf := newEmu(t)
	keep := emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "TXT", Content: "keep me"})
	gone := emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.9"})
	emu.ResetRequests()
	creates := []Record{
		{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60, Comment: "managed by goavail"},
		{Name: "www.example.com", Type: "AAAA", Content: "2001:db8::1", TTL: 1, Proxied: true, Comment: "managed by goavail"},
	}
	if err := cf.Apply(context.Background(), "example.com", creates, []Record{{ID: gone.ID}}); err != nil {
		t.Fatal(err)
	}
	got := emu.Records("example.com")
	if len(got) != 3 {
		t.Fatalf("records = %v", got)
	}
	var sawA, sawAAAA, sawKeep bool
	for _, r := range got {
		switch {
		case r.ID == keep.ID:
			sawKeep = true
		case r.Type == "A" && r.Content == "192.0.2.1" && r.TTL == 60 && !r.Proxied && r.Comment == "managed by goavail":
			sawA = true
		case r.Type == "AAAA" && r.Content == "2001:db8::1" && r.Proxied && r.TTL == 1:
			sawAAAA = true
		}
	}
	if !sawA || !sawAAAA || !sawKeep {
		t.Errorf("after apply: %v", got)
	}
	var writes []cfemu.Request
	for _, r := range emu.Requests() {
		if r.Write() {
			writes = append(writes, r)
		}
	}
	if len(writes) != 1 || !strings.HasSuffix(writes[0].Path, "/dns_records/batch") {
		t.Errorf("writes = %+v, want one batch", writes)
	}
}

func TestCloudflare_ApplyChunksByBatchSize(t *testing.T) {
	emu, cf := newEmu(t)
	cf.batchSize = 3
	var creates []Record
	for i := 0; i < 7; i++ {
		creates = append(creates, Record{Name: "www.example.com", Type: "A", Content: fmt.Sprintf("192.0.2.%d", i+1), TTL: 60})
	}
	old := emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.99"})
	emu.ResetRequests()
	if err := cf.Apply(context.Background(), "example.com", creates, []Record{{ID: old.ID}}); err != nil {
		t.Fatal(err)
	}
	if n := len(emu.Records("example.com")); n != 7 {
		t.Errorf("%d records, want 7", n)
	}
	n := 0
	for _, r := range emu.Requests() {
		if strings.HasSuffix(r.Path, "/batch") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d batch requests, want 3 (3+3+1 creates, the delete in the last)", n)
	}
}

func TestCloudflare_Errors(t *testing.T) {
	ctx := context.Background()
	t.Run("bad token is permanent", func(t *testing.T) {
		emu, _ := newEmu(t)
		cf, _ := NewCloudflare(CloudflareOptions{BaseURL: emu.BaseURL(), Credentials: Credentials{Token: "wrong"}, RequestTimeout: 5 * time.Second})
		_, err := cf.Records(ctx, "example.com", []string{"A"})
		var perm *PermanentError
		if !errors.As(err, &perm) || !strings.Contains(err.Error(), "9109") {
			t.Errorf("err = %v, want a PermanentError with code 9109", err)
		}
	})
	t.Run("legacy key and email work", func(t *testing.T) {
		emu, _ := newEmu(t)
		cf, _ := NewCloudflare(CloudflareOptions{BaseURL: emu.BaseURL(), Credentials: Credentials{Key: emu.Key, Email: emu.Email}, RequestTimeout: 5 * time.Second})
		if _, err := cf.Records(ctx, "example.com", []string{"A"}); err != nil {
			t.Error(err)
		}
	})
	t.Run("unknown zone says what to check", func(t *testing.T) {
		_, cf := newEmu(t)
		_, err := cf.Records(ctx, "example.org", []string{"A"})
		var perm *PermanentError
		if !errors.As(err, &perm) || !strings.Contains(err.Error(), "no active zone example.org") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("429 carries Retry-After", func(t *testing.T) {
		emu, cf := newEmu(t)
		emu.Inject(cfemu.Fault{Status: 429, RetryAfter: 7 * time.Second, Count: 1})
		_, err := cf.Records(ctx, "example.com", []string{"A"})
		var ra *RetryAfterError
		if !errors.As(err, &ra) || ra.Wait != 7*time.Second {
			t.Fatalf("err = %v, want RetryAfterError of 7s", err)
		}
		if n := len(emu.Requests()); n != 1 {
			t.Errorf("SDK retried on its own: %d requests", n)
		}
	})
	t.Run("5xx is transient", func(t *testing.T) {
		emu, cf := newEmu(t)
		emu.Inject(cfemu.Fault{Status: 502, Count: 1})
		_, err := cf.Records(ctx, "example.com", []string{"A"})
		var perm *PermanentError
		if err == nil || errors.As(err, &perm) || !strings.Contains(err.Error(), "502") {
			t.Errorf("err = %v, want a transient 502", err)
		}
	})
	t.Run("identical record is stale, batch is all or nothing", func(t *testing.T) {
		emu, cf := newEmu(t)
		emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1"})
		err := cf.Apply(ctx, "example.com", []Record{
			{Name: "www.example.com", Type: "A", Content: "192.0.2.2", TTL: 60},
			{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60},
		}, nil)
		var stale *StaleError
		if !errors.As(err, &stale) || !strings.Contains(err.Error(), "81058") {
			t.Errorf("err = %v, want StaleError 81058", err)
		}
		if n := len(emu.Records("example.com")); n != 1 {
			t.Errorf("failed batch left %d records, want 1", n)
		}
	})
	t.Run("invalid content is rejected", func(t *testing.T) {
		_, cf := newEmu(t)
		err := cf.Apply(ctx, "example.com", []Record{{Name: "www.example.com", Type: "A", Content: "2001:db8::1", TTL: 60}}, nil)
		var rej *RejectedError
		if !errors.As(err, &rej) || rej.Code != 9005 {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		if _, err := NewCloudflare(CloudflareOptions{}); err == nil || !strings.Contains(err.Error(), "CLOUDFLARE_API_TOKEN") {
			t.Errorf("err = %v", err)
		}
	})
}
