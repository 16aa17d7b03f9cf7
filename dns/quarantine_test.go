package dns

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestQuarantine_ReleasedOnlyByItsName: a restore refused for a CNAME at
// its name stays quarantined while a DDNS client changes its own record
// elsewhere in the zone on every pass, and is made once the CNAME at its
// name goes.
func TestQuarantine_ReleasedOnlyByItsName(t *testing.T) {
	cname := Record{ID: "c", Name: "cdn.example.com", Type: "CNAME", Content: "cdn.example.net"}
	p := &refuser{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"), cname, rec("h", "home.example.com", "A", "198.51.100.1")}}
	p.code = func(r Record) int64 {
		if r.Name == "cdn.example.com" && slices.ContainsFunc(p.records, func(x Record) bool { return x.ID == "c" }) {
			return 81053
		}
		return 0
	}
	r, now := splitReconciler(p, Group{Zone: "example.com", Hostnames: []string{"www.example.com", "cdn.example.com"}, Addrs: []netip.Addr{ip1}, TTL: 60})
	r.Pass(context.Background())
	if q := r.Quarantined(); len(q) != 1 || q[0].Code != 81053 {
		t.Fatalf("quarantine = %+v", q)
	}
	sent := p.count()
	for i := range 5 {
		*now = now.Add(time.Minute)
		p.mu.Lock()
		p.records[2].Content = fmt.Sprintf("198.51.100.%d", i+2) // the DDNS client's update
		p.mu.Unlock()
		r.Pass(context.Background())
	}
	if n := p.count() - sent; n != 0 {
		t.Errorf("%d batches in 5 passes while only another name changed, want 0 (the quarantined change held)", n)
	}
	p.mu.Lock()
	p.records = slices.DeleteFunc(p.records, func(x Record) bool { return x.ID == "c" }) // the operator removes the CNAME
	p.mu.Unlock()
	r.Pass(context.Background())
	r.Pass(context.Background())
	if q := r.Quarantined(); len(q) != 0 || !slices.ContainsFunc(p.records, func(x Record) bool { return x.Name == "cdn.example.com" && x.Type == "A" }) {
		t.Errorf("after the CNAME went: quarantine %+v, records %v", q, p.records)
	}
}
