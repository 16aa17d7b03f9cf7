package cloudflare

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/cfemu"
)

func newEmu(t *testing.T) (*cfemu.Server, *Adapter) {
	t.Helper()
	emu := cfemu.New()
	t.Cleanup(emu.Close)
	emu.AddZone("example.com")
	emu.AddZone("example.net")
	cf, err := New(Options{BaseURL: emu.BaseURL(), Credentials: Credentials{Token: emu.Token}, BatchSize: 200, RequestTimeout: 5 * time.Second})
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
	creates := []dns.Record{
		{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60, Comment: "managed by goavail"},
		{Name: "www.example.com", Type: "AAAA", Content: "2001:db8::1", TTL: 1, Proxied: true, Comment: "managed by goavail"},
	}
	if err := cf.Apply(context.Background(), "example.com", creates, []dns.Record{{ID: gone.ID}}); err != nil {
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
	var creates []dns.Record
	for i := 0; i < 7; i++ {
		creates = append(creates, dns.Record{Name: "www.example.com", Type: "A", Content: fmt.Sprintf("192.0.2.%d", i+1), TTL: 60})
	}
	old := emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.99"})
	emu.ResetRequests()
	if err := cf.Apply(context.Background(), "example.com", creates, []dns.Record{{ID: old.ID}}); err != nil {
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
		cf, _ := New(Options{BaseURL: emu.BaseURL(), Credentials: Credentials{Token: "wrong"}, RequestTimeout: 5 * time.Second})
		_, err := cf.Records(ctx, "example.com", []string{"A"})
		var perm *dns.PermanentError
		if !errors.As(err, &perm) || !strings.Contains(err.Error(), "9109") {
			t.Errorf("err = %v, want a dns.PermanentError with code 9109", err)
		}
	})
	t.Run("legacy key and email work", func(t *testing.T) {
		emu, _ := newEmu(t)
		cf, _ := New(Options{BaseURL: emu.BaseURL(), Credentials: Credentials{Key: emu.Key, Email: emu.Email}, RequestTimeout: 5 * time.Second})
		if _, err := cf.Records(ctx, "example.com", []string{"A"}); err != nil {
			t.Error(err)
		}
	})
	t.Run("unknown zone says what to check", func(t *testing.T) {
		_, cf := newEmu(t)
		_, err := cf.Records(ctx, "example.org", []string{"A"})
		var perm *dns.PermanentError
		if !errors.As(err, &perm) || !strings.Contains(err.Error(), "no active zone example.org") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("429 carries Retry-After", func(t *testing.T) {
		emu, cf := newEmu(t)
		emu.Inject(cfemu.Fault{Status: 429, RetryAfter: 7 * time.Second, Count: 1})
		_, err := cf.Records(ctx, "example.com", []string{"A"})
		var ra *dns.RetryAfterError
		if !errors.As(err, &ra) || ra.Wait != 7*time.Second {
			t.Fatalf("err = %v, want dns.RetryAfterError of 7s", err)
		}
		if n := len(emu.Requests()); n != 1 {
			t.Errorf("SDK retried on its own: %d requests", n)
		}
	})
	t.Run("5xx is transient", func(t *testing.T) {
		emu, cf := newEmu(t)
		emu.Inject(cfemu.Fault{Status: 502, Count: 1})
		_, err := cf.Records(ctx, "example.com", []string{"A"})
		var perm *dns.PermanentError
		if err == nil || errors.As(err, &perm) || !strings.Contains(err.Error(), "502") {
			t.Errorf("err = %v, want a transient 502", err)
		}
	})
	t.Run("identical record is stale, batch is all or nothing", func(t *testing.T) {
		emu, cf := newEmu(t)
		emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1"})
		err := cf.Apply(ctx, "example.com", []dns.Record{
			{Name: "www.example.com", Type: "A", Content: "192.0.2.2", TTL: 60},
			{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60},
		}, nil)
		var stale *dns.StaleError
		if !errors.As(err, &stale) || !strings.Contains(err.Error(), "81058") {
			t.Errorf("err = %v, want dns.StaleError 81058", err)
		}
		if n := len(emu.Records("example.com")); n != 1 {
			t.Errorf("failed batch left %d records, want 1", n)
		}
	})
	t.Run("invalid content is rejected", func(t *testing.T) {
		_, cf := newEmu(t)
		err := cf.Apply(ctx, "example.com", []dns.Record{{Name: "www.example.com", Type: "A", Content: "2001:db8::1", TTL: 60}}, nil)
		var rej *dns.RejectedError
		if !errors.As(err, &rej) || rej.Code != 9005 {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "CLOUDFLARE_API_TOKEN") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestCloudflare_ListStopsAtTotalPages: with a zone that fills its pages
// exactly, the adapter stops at the last page total_pages names, without
// asking for the empty page after it.
func TestCloudflare_ListStopsAtTotalPages(t *testing.T) {
	emu, cf := newEmu(t)
	for i := 0; i < 20; i++ {
		emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: fmt.Sprintf("192.0.2.%d", i+1)})
	}
	emu.SetMaxPerPage(5)
	emu.ResetRequests()
	recs, err := cf.Records(context.Background(), "example.com", []string{"A"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 20 {
		t.Fatalf("listed %d records, want 20", len(recs))
	}
	var pages []string
	for _, r := range emu.Requests() {
		if strings.HasSuffix(r.Path, "/dns_records") {
			pages = append(pages, r.Query)
		}
	}
	if len(pages) != 4 || !strings.Contains(pages[3], "page=4") {
		t.Errorf("list requests %v, want pages 1 to 4 (total_pages)", pages)
	}
}

// TestCloudflare_ZoneLookup: only active zones count, account_id picks
// among accounts, two active zones of the name is an error naming both
// accounts, and an answer saying the cached id is gone drops it so the
// next request looks the zone up again.
func TestCloudflare_ZoneLookup(t *testing.T) {
	ctx := context.Background()
	emu := cfemu.New()
	t.Cleanup(emu.Close)
	acct := func(n string) cfemu.Account { return cfemu.Account{ID: strings.Repeat(n, 32), Name: "Account " + n} }
	emu.AddZoneWith("example.com", cfemu.ZoneOptions{Status: "pending", Account: acct("a")})
	emu.AddZoneWith("example.com", cfemu.ZoneOptions{Status: "moved", Account: acct("b")})
	live := emu.AddZoneWith("example.com", cfemu.ZoneOptions{Account: acct("c")})
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1"})
	open := func(account string) *Adapter {
		cf, err := New(Options{BaseURL: emu.BaseURL(), Credentials: Credentials{Token: emu.Token}, AccountID: account, RequestTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return cf
	}
	cf := open("")
	if id, err := cf.zoneID(ctx, "example.com"); err != nil || id != live {
		t.Fatalf("zone = %s, %v; want the active one %s", id, err, live)
	}
	if ns, err := cf.NameServers(ctx, "example.com"); err != nil || len(ns) != 1 || ns[0] != emu.DNSAddr() {
		t.Errorf("name servers %v, %v; want the emulator's %s", ns, err, emu.DNSAddr())
	}
	if _, err := open(strings.Repeat("a", 32)).zoneID(ctx, "example.com"); err == nil || !strings.Contains(err.Error(), "no active zone example.com in account "+strings.Repeat("a", 32)) {
		t.Errorf("pending zone in the configured account: %v", err)
	}
	other := emu.AddZoneWith("example.com", cfemu.ZoneOptions{Account: acct("d")})
	_, err := open("").zoneID(ctx, "example.com")
	var perm *dns.PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), strings.Repeat("c", 32)) || !strings.Contains(err.Error(), strings.Repeat("d", 32)) || !strings.Contains(err.Error(), "account_id") {
		t.Errorf("two active zones: %v, want an error naming both accounts and account_id", err)
	}
	if id, err := open(strings.Repeat("d", 32)).zoneID(ctx, "example.com"); err != nil || id != other {
		t.Errorf("account_id d: %s, %v; want %s", id, err, other)
	}

	// The cached zone is deleted and re-added: the old id answers 7003, the
	// cache is dropped, and the next request finds the new zone.
	emu.DeleteZone(other)
	emu.DeleteZone(live)
	again := emu.AddZoneWith("example.com", cfemu.ZoneOptions{Account: acct("c")})
	_, err = cf.Records(ctx, "example.com", []string{"A"})
	var zerr *dns.ZoneError
	if !errors.As(err, &zerr) {
		t.Fatalf("request on a deleted zone's id: %v, want a dns.ZoneError", err)
	}
	if _, err := cf.Records(ctx, "example.com", []string{"A"}); err != nil {
		t.Fatalf("after the zone came back: %v", err)
	}
	if id, _ := cf.zoneID(ctx, "example.com"); id != again {
		t.Errorf("cached %s, want the new zone %s", id, again)
	}
}

// TestCloudflare_AnswersAsCloudflareGivesThem: the adapter, through the
// real SDK, classifies what the emulator answers as Cloudflare would.
func TestCloudflare_AnswersAsCloudflareGivesThem(t *testing.T) {
	ctx := context.Background()
	t.Run("token without permission is permanent", func(t *testing.T) {
		emu, _ := newEmu(t)
		cf, _ := New(Options{BaseURL: emu.BaseURL(), Credentials: Credentials{Token: emu.NoPermToken}, RequestTimeout: 5 * time.Second})
		_, err := cf.Records(ctx, "example.com", []string{"A"})
		var perm *dns.PermanentError
		if !errors.As(err, &perm) || !strings.Contains(err.Error(), "10000") || !strings.Contains(err.Error(), "permissions") {
			t.Errorf("err = %v", err)
		}
	})
	for _, tc := range []struct {
		form string
		wait time.Duration
	}{{"ms", 1500 * time.Millisecond}, {"date", 2 * time.Second}, {"seconds", 2 * time.Second}} {
		t.Run("Retry-After as "+tc.form, func(t *testing.T) {
			emu, cf := newEmu(t)
			emu.Inject(cfemu.Fault{Status: 429, RetryAfter: tc.wait, RetryAfterForm: tc.form, Count: 1})
			_, err := cf.Records(ctx, "example.com", []string{"A"})
			var ra *dns.RetryAfterError
			// An HTTP date counts from the answer's own Date header, so the
			// wait is exact whatever the clocks say.
			if !errors.As(err, &ra) || ra.Wait != tc.wait {
				t.Errorf("err = %v, want a wait of exactly %s", err, tc.wait)
			}
		})
	}
	t.Run("429 without Retry-After says no wait", func(t *testing.T) {
		for _, h := range []http.Header{nil, {}, {"Retry-After": {"soon"}}, {"Retry-After": {"0"}}} {
			if got := retryAfter(h, time.Now()); got != 0 {
				t.Errorf("Retry-After %v read as %s, want 0 (the Reconciler holds its own growing floor)", h, got)
			}
		}
	})
	t.Run("HTML 5xx from the edge is transient", func(t *testing.T) {
		emu, cf := newEmu(t)
		emu.Inject(cfemu.Fault{Status: 502, HTML: true, Count: 1})
		_, err := cf.Records(ctx, "example.com", []string{"A"})
		var perm *dns.PermanentError
		var rej *dns.RejectedError
		if err == nil || errors.As(err, &perm) || errors.As(err, &rej) || !strings.Contains(err.Error(), "HTML page: 502 Bad Gateway") {
			t.Errorf("err = %v, want a transient error naming the page", err)
		}
		if c := dns.ErrorCode(err); c != "http_502" {
			t.Errorf("code %q, want http_502", c)
		}
	})
	t.Run("lost answer may hide an applied batch", func(t *testing.T) {
		emu, cf := newEmu(t)
		emu.Inject(cfemu.Fault{Method: "POST", PathSuffix: "/batch", LoseAnswer: true, Count: 1})
		err := cf.Apply(ctx, "example.com", []dns.Record{{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60}}, nil)
		if err == nil || dns.Unsent(err) {
			t.Errorf("err = %v, want an error that does not prove the batch unsent", err)
		}
		if n := len(emu.Records("example.com")); n != 1 {
			t.Errorf("the batch was not committed: %d records", n)
		}
		err = cf.Apply(ctx, "example.com", []dns.Record{{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60}}, nil)
		var stale *dns.StaleError
		if !errors.As(err, &stale) || stale.Code != 81058 {
			t.Errorf("the retry: %v, want 81058", err)
		}
	})
	t.Run("refused connection proves the request unsent", func(t *testing.T) {
		emu, cf := newEmu(t)
		emu.Stop()
		_, err := cf.Records(ctx, "example.com", []string{"A"})
		if err == nil || !dns.Unsent(err) {
			t.Errorf("err = %v, want one that proves nothing was sent", err)
		}
	})
}

// TestClassifyAnswer: each Cloudflare answer maps to the treatment the
// table in docs/design.md gives it.
func TestClassifyAnswer(t *testing.T) {
	for _, tc := range []struct {
		status int
		codes  []int64
		want   string
	}{
		{429, []int64{971}, "rate"},
		{500, nil, "transient"},
		{503, []int64{10503}, "transient"},
		{409, []int64{1}, "transient"},
		{400, []int64{81058}, "stale"},
		{400, []int64{81057}, "stale"},
		{404, []int64{81044}, "stale"},
		{400, []int64{81053}, "rejected"},
		{400, []int64{81054}, "rejected"},
		{400, []int64{9101}, "rejected"},
		{400, []int64{9005}, "rejected"},
		{400, []int64{1004}, "rejected"},
		{413, []int64{1}, "rejected"},
		{400, []int64{9106}, "permanent"},
		{403, []int64{10000}, "permanent"},
		{403, []int64{9109}, "permanent"},
		{400, []int64{6003}, "permanent"},
		{401, nil, "permanent"},
		{404, []int64{7003}, "zone"},
		{400, []int64{1001}, "zone"},
	} {
		a := apiAnswer{status: tc.status, codes: tc.codes, now: time.Now()}
		for range tc.codes {
			a.msgs = append(a.msgs, "m")
		}
		err := classifyAnswer("x", a)
		var ra *dns.RetryAfterError
		var perm *dns.PermanentError
		var rej *dns.RejectedError
		var stale *dns.StaleError
		var zerr *dns.ZoneError
		got := "transient"
		switch {
		case errors.As(err, &ra):
			got = "rate"
		case errors.As(err, &perm):
			got = "permanent"
		case errors.As(err, &rej):
			got = "rejected"
		case errors.As(err, &stale):
			got = "stale"
		case errors.As(err, &zerr):
			got = "zone"
		}
		if got != tc.want {
			t.Errorf("HTTP %d %v: %s (%v), want %s", tc.status, tc.codes, got, err, tc.want)
		}
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newFencedEmu is newEmu with a fence in each zone, as an earlier write
// of goavail's left it, so that a test's first batch is a change, not the
// fence's creation.
func newFencedEmu(t *testing.T) (*cfemu.Server, *Adapter) {
	emu, cf := newEmu(t)
	seedFence(emu, "example.com")
	seedFence(emu, "example.net")
	return emu, cf
}

// seedFence gives zone a fence as an earlier write of goavail's left it,
// so that a test's first batch is a change, not the fence's creation.
func seedFence(emu *cfemu.Server, zone string) {
	name := "_goavail." + zone
	emu.Seed(zone, cfemu.Record{Name: name, Type: "TXT", Content: dns.GenesisContent, TTL: 60})
	emu.Seed(zone, cfemu.Record{Name: name, Type: "TXT", Content: dns.FenceStamp{Deployment: "goavail", Writer: "seed"}.Content(), TTL: 60})
}
