package dns

import (
	"context"
	"strings"
	"testing"
)

// TestReconciler_SaysWhenTheZoneDiffersFromTheConfig: a pass (dry run
// included) that lists managed records with another ttl or proxied flag
// than their group sets logs it once per zone, naming each record; an
// unmanaged record and a group ttl of 0 (keep each record's own) are no
// difference, and a finding that does not change is not logged again.
func TestReconciler_SaysWhenTheZoneDiffersFromTheConfig(t *testing.T) {
	r1 := rec("1", "www.example.com", "A", "192.0.2.1")
	r1.TTL = 300
	r2 := rec("2", "www.example.com", "A", "192.0.2.2")
	r2.TTL, r2.Proxied = 60, true
	other := rec("3", "mail.example.com", "A", "192.0.2.9")
	other.TTL = 3600
	p := &memProvider{records: []Record{r1, r2, other}}
	r, _, logs := newRec(t, p, true) // a dry run: the plan side
	ctx := context.Background()
	r.Pass(ctx)
	r.Pass(ctx)
	out := logs.String()
	if n := strings.Count(out, "records differ from the config in ttl/proxied"); n != 1 {
		t.Fatalf("%d lines, want 1:\n%s", n, out)
	}
	for _, want := range []string{"level=WARN", "www.example.com A 192.0.2.1: ttl 300 (config 60)", "www.example.com A 192.0.2.2: proxied true (config false)", "records=2"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "mail.example.com") {
		t.Errorf("an unmanaged record reported:\n%s", out)
	}

	keep := small
	keep.TTL = 0 // keep each record's own ttl
	p2 := &memProvider{records: []Record{r1}}
	r2c, _, logs2 := newRec(t, p2, true)
	r2c.SetGroups([]Group{keep}, 0)
	r2c.Pass(ctx)
	if strings.Contains(logs2.String(), "records differ") {
		t.Errorf("ttl 0 reported as a difference:\n%s", logs2)
	}
}
