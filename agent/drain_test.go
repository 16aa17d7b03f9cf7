package agent

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/monitor"
	"github.com/goavail/goavail/notify"
)

var (
	d1 = netip.MustParseAddr("192.0.2.1")
	d2 = netip.MustParseAddr("192.0.2.2")
	d3 = netip.MustParseAddr("192.0.2.3")
	d4 = netip.MustParseAddr("192.0.2.4")
	t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

// TestDrainStore_Converges: whatever order two agents learn a drain and an
// undrain in, both end with the newest, and an older entry never
// overwrites a newer one.
func TestDrainStore_Converges(t *testing.T) {
	drain := DrainEntry{Addr: d1, Drained: true, At: t0, By: "alice", Node: "a"}
	undrain := DrainEntry{Addr: d1, Drained: false, At: t0.Add(time.Minute), By: "bob", Node: "b"}
	tie := DrainEntry{Addr: d1, Drained: true, At: t0.Add(time.Minute), By: "carol", Node: "c"} // same instant, higher node
	for _, order := range [][]DrainEntry{{drain, undrain, tie}, {tie, undrain, drain}, {undrain, tie, drain}} {
		s, _ := loadDrainStore("")
		s.merge(order)
		if got, _ := s.get(d1); got != tie {
			t.Errorf("after %v: %+v, want carol's", order, got)
		}
	}
	s, _ := loadDrainStore("")
	s.put(undrain)
	if s.put(drain) {
		t.Error("an older drain replaced a newer undrain")
	}
}

// TestDrainStore_SurvivesRestart: saved atomically beside the state file
// and read back as it was.
func TestDrainStore_SurvivesRestart(t *testing.T) {
	path := drainsPath(filepath.Join(t.TempDir(), "state.json"))
	if !strings.HasSuffix(path, "state.drains.json") {
		t.Fatalf("drains path = %s", path)
	}
	s, err := loadDrainStore(path)
	if err != nil || len(s.list()) != 0 {
		t.Fatalf("missing file: %v, %v", err, s.list())
	}
	want := []DrainEntry{{Addr: d1, Drained: true, At: t0, By: "alice@ops", Reason: "kernel", Node: "a"}, {Addr: d2, At: t0, By: "bob", Node: "b"}}
	s.merge(want)
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	again, err := loadDrainStore(path)
	if err != nil || !slices.Equal(again.list(), want) {
		t.Errorf("reloaded %v, %v; want %v", again.list(), err, want)
	}
}

// TestDecodeDrains_Strict refuses what a peer or a damaged file should
// never send.
func TestDecodeDrains_Strict(t *testing.T) {
	long := strings.Repeat("x", maxDrainText+1)
	for _, in := range []string{
		`{}`, `[{"address":"192.0.2.1","extra":1}]`, `[{"drained":true}]`, `[{"address":"nope"}]`,
		`[{"address":"192.0.2.1"},{"address":"192.0.2.1"}]`, `[{"address":"192.0.2.1","reason":"` + long + `"}] `, `[] []`,
	} {
		if _, err := decodeDrains([]byte(in)); err == nil {
			t.Errorf("decodeDrains(%.60s) accepted", in)
		}
	}
	if l, err := decodeDrains([]byte(`[{"address":"192.0.2.1","drained":true,"at":"2026-11-25T12:00:00Z","by":"a"}]`)); err != nil || len(l) != 1 {
		t.Errorf("a good list: %v, %v", l, err)
	}
}

func FuzzDecodeDrains(f *testing.F) {
	f.Add([]byte(`[{"address":"192.0.2.1","drained":true,"at":"2026-11-25T12:00:00Z","by":"a","reason":"r","node":"n"}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := decodeDrains(b)
		if err != nil {
			return
		}
		s, _ := loadDrainStore("")
		s.merge(l)
		back, err := decodeDrains(s.encode())
		if err != nil || len(back) != len(s.list()) {
			t.Fatalf("re-encoded drains do not decode: %v", err)
		}
	})
}

func drainCfg(t *testing.T, extra string) *config.Config {
	t.Helper()
	c, err := config.Parse(`node_name = "a"
[Cloudflare]
dns_domain = "example.com"
hostnames = ["www"]
ip_addresses = ["192.0.2.1", "192.0.2.2"]
` + extra + `
[[Records]]
dns_domain = "example.net"
hostnames = ["api"]
ip_addresses = ["192.0.2.3", "192.0.2.4"]
`)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLastRecord names the hostnames a drain would leave with no address
// in DNS: those whose every other address is down, unknown or drained.
func TestLastRecord(t *testing.T) {
	cfg := drainCfg(t, "")
	up := map[netip.Addr]monitor.State{d1: monitor.Up, d2: monitor.Up, d3: monitor.Up, d4: monitor.Down}
	for _, tc := range []struct {
		name    string
		addr    netip.Addr
		drained []netip.Addr
		want    []string
	}{
		{"another address is up", d1, nil, nil},
		{"the other is drained", d1, []netip.Addr{d2}, []string{"www.example.com"}},
		{"the other is down", d3, nil, []string{"api.example.net"}},
		{"the other is unknown", d3, nil, []string{"api.example.net"}},
	} {
		dr := map[netip.Addr]DrainEntry{}
		for _, a := range tc.drained {
			dr[a] = DrainEntry{Addr: a, Drained: true}
		}
		states := up
		if tc.name == "the other is unknown" {
			states = map[netip.Addr]monitor.State{d3: monitor.Up}
		}
		if got := lastRecord(cfg, tc.addr, dr, states); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDrained_NeverCountTowardsIsolation: an agent whose drained
// addresses are down (machines off for maintenance) does not abstain; its
// view holds only the addresses not drained.
func TestDrained_NeverCountTowardsIsolation(t *testing.T) {
	cfg := drainCfg(t, "")
	d := &drainer{store: &drainStore{entries: map[netip.Addr]DrainEntry{}}, cfg: cfg}
	for _, a := range []netip.Addr{d1, d2, d3} {
		d.store.put(DrainEntry{Addr: a, Drained: true, At: t0, Force: true}) // forced: group 0 is drained whole
	}
	local := []monitor.Status{{Addr: d1, State: monitor.Down}, {Addr: d2, State: monitor.Down}, {Addr: d3, State: monitor.Down}, {Addr: d4, State: monitor.Up}}
	all := cluster.PeerView{States: map[netip.Addr]monitor.State{}}
	for _, s := range local {
		all.States[s.Addr] = s.State
	}
	if !cluster.Isolated(all, 0.7) {
		t.Fatal("test premise: 3 of 4 down should trip the guard")
	}
	v := cluster.View{Entries: d.filter(slices.Clone(local))}
	if cluster.Isolated(cluster.PeerView{States: v.States(), Failing: v.Failing()}, 0.7) || len(v.Entries) != 1 {
		t.Errorf("drained addresses counted: view %v", v.Entries)
	}
	groups := d.groups(cfg)
	if !slices.Equal(groups[0].Drained, []netip.Addr{d1, d2}) || !slices.Equal(groups[1].Drained, []netip.Addr{d3}) {
		t.Errorf("planner groups drained = %v, %v", groups[0].Drained, groups[1].Drained)
	}
}

// newTestDrainer wires a drainer to a lone cluster (no sockets) and a
// dry-run reconciler without a provider.
func newTestDrainer(t *testing.T, cfg *config.Config) *drainer {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	d, err := newDrainer(cfg, func(string) string { return "" }, newEvents(notify.New(log), cfg.NodeName), log)
	if err != nil {
		t.Fatal(err)
	}
	d.now = func() time.Time { return t0 }
	clu, err := cluster.New(cluster.Config{NodeName: cfg.NodeName, Rules: rules(cfg), ViewInterval: time.Second, Local: func() []monitor.Status { return nil }, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	rec := newTestReconciler(clu)
	d.clu, d.rec, d.annex = clu, rec, &annexBox{publish: clu.SetAnnex}
	d.setConfig(cfg)
	return d
}

// TestDrainAPI: off without a token; a wrong token is refused; a drain that
// would empty a hostname is refused unless forced; an address drained by
// the config cannot be undrained through the API; the annex carries the
// drains.
func TestDrainAPI(t *testing.T) {
	cfg := drainCfg(t, `drain = ["192.0.2.2"]`)
	d := newTestDrainer(t, cfg)
	call := func(token, path, body string, auth string) (int, string) {
		mux := http.NewServeMux()
		drainRoutes(d, token)(mux)
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	body := func(addr string, force bool) string {
		b, _ := json.Marshal(DrainRequest{Address: addr, By: "alice", Reason: "maintenance", Force: force})
		return string(b)
	}
	for _, c := range []struct {
		name, token, path, body, auth string
		code                          int
		want                          string
	}{
		{"off without a token", "", "/-/drain", body("192.0.2.3", false), "x", 404, "the drain API is off"},
		{"no token given", "s3cret", "/-/drain", body("192.0.2.3", false), "", 401, "wrong or missing API token"},
		{"wrong token", "s3cret", "/-/drain", body("192.0.2.3", false), "nope", 401, "wrong or missing API token"},
		{"not configured", "s3cret", "/-/drain", body("198.51.100.1", false), "s3cret", 404, "is not a configured address"},
		{"bad body", "s3cret", "/-/drain", `{"addr":1}`, "s3cret", 400, "bad request body"},
		{"last record (nothing agreed up yet)", "s3cret", "/-/drain", body("192.0.2.3", false), "s3cret", 409, "would leave api.example.net with no address in DNS"},
		{"forced", "s3cret", "/-/drain", body("192.0.2.3", true), "s3cret", 200, `"drained":true`},
		{"config drain cannot be undrained here", "s3cret", "/-/undrain", body("192.0.2.2", false), "s3cret", 409, "drained by the config file"},
		{"undrain", "s3cret", "/-/undrain", body("192.0.2.3", false), "s3cret", 200, `"drained":false`},
		{"undrain again: nothing to do", "s3cret", "/-/undrain", body("192.0.2.3", false), "s3cret", 200, `"address":"192.0.2.3"`},
	} {
		code, got := call(c.token, c.path, c.body, c.auth)
		if code != c.code || !strings.Contains(got, c.want) {
			t.Errorf("%s: %d %q, want %d containing %q", c.name, code, got, c.code, c.want)
		}
	}
	e, _ := d.store.get(d3)
	if e.Drained || e.By != "alice" {
		t.Errorf("store after undrain: %+v", e)
	}
	if _, ok := d.drained()[d2]; !ok {
		t.Error("the config drain is gone")
	}
	d.annex.mu.Lock()
	part := d.annex.a.Drains
	d.annex.mu.Unlock()
	if l, err := decodeDrains(part); err != nil || len(l) != 1 || l[0].Addr != d3 {
		t.Errorf("annex drains = %s (%v)", part, err)
	}
}

// TestDrainer_MergesPeers: a drain taken by another agent reaches this one
// through the annex of that agent's view (mergePeers is fed the same
// bytes here).
func TestDrainer_MergesPeers(t *testing.T) {
	cfg := drainCfg(t, "")
	a, b := newTestDrainer(t, cfg), newTestDrainer(t, cfg)
	if _, err := a.drain(d1, "alice", "disk", true); err != nil {
		t.Fatal(err)
	}
	annexBytes, _ := annex{Drains: a.store.encode()}.encode()
	dec, err := decodeAnnex(annexBytes)
	if err != nil {
		t.Fatal(err)
	}
	list, err := decodeDrains(dec.Drains)
	if err != nil {
		t.Fatal(err)
	}
	if learned := b.store.merge(list); len(learned) != 1 {
		t.Fatalf("learned %v", learned)
	}
	if e, ok := b.drained()[d1]; !ok || e.Reason != "disk" || e.Node != "a" {
		t.Errorf("b's drains = %v", b.drained())
	}
	if !bytes.Equal(a.store.encode(), b.store.encode()) {
		t.Errorf("stores differ:\n%s\n%s", a.store.encode(), b.store.encode())
	}
}

// newTestReconciler is a dry-run reconciler without a provider.
func newTestReconciler(clu *cluster.Cluster) *dns.Reconciler {
	return dns.NewReconciler(dns.ReconcilerConfig{DryRun: true, Health: AgreedHealth(clu), Writer: clu.IsWriter, Log: slog.New(slog.DiscardHandler)})
}

// TestDrainer_UndrainBeforeTheDrainArrives: an undrain sent to an agent
// that has not yet heard of a drain sent a moment earlier to another still
// wins once the two exchange their entries, on both.
func TestDrainer_UndrainBeforeTheDrainArrives(t *testing.T) {
	cfg := drainCfg(t, "")
	a, b := newTestDrainer(t, cfg), newTestDrainer(t, cfg)
	a.node, b.node = "a", "b"
	if _, err := a.drain(d1, "alice", "disk", true); err != nil {
		t.Fatal(err)
	}
	b.now = func() time.Time { return t0.Add(time.Second) }
	if e, err := b.undrain(d1, "bob"); err != nil || !e.At.IsZero() {
		t.Fatalf("undrain of an address b does not know drained: %+v, %v", e, err)
	}
	a.store.merge(b.store.list())
	b.store.merge(a.store.list())
	for name, d := range map[string]*drainer{"a": a, "b": b} {
		if _, drained := d.drained()[d1]; drained {
			t.Errorf("%s still drains %s after the later undrain", name, d1)
		}
	}
}

// TestDrainer_NeverEmptiesAGroupUnforced: if every address of a group ends
// up drained (two drains at once on two agents) and none was forced, the
// one drained last stays in the planner's groups; a forced drain may empty
// it.
func TestDrainer_NeverEmptiesAGroupUnforced(t *testing.T) {
	cfg := drainCfg(t, "")
	d := newTestDrainer(t, cfg)
	d.store.merge([]DrainEntry{
		{Addr: d3, Drained: true, At: t0, By: "alice", Node: "a"},
		{Addr: d4, Drained: true, At: t0.Add(time.Second), By: "bob", Node: "b"},
	})
	if got := d.groups(cfg)[1].Drained; !slices.Equal(got, []netip.Addr{d3}) {
		t.Errorf("unforced: drained %v, want only %s (the one drained last stays)", got, d3)
	}
	d.store.put(DrainEntry{Addr: d4, Drained: true, At: t0.Add(2 * time.Second), By: "bob", Node: "b", Force: true})
	if got := d.groups(cfg)[1].Drained; !slices.Equal(got, []netip.Addr{d3, d4}) {
		t.Errorf("forced: drained %v, want both", got)
	}
}
