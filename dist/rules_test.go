package dist

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// promtool finds promtool (Debian's prometheus package; make test-deps
// installs it). Outside CI the test skips without it and says why; under
// CI it fails.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("promtool is not installed (make test-deps installs Debian's prometheus package): the alert rules cannot be checked")
	}
	t.Skip("promtool is not installed: make test-deps installs it (Debian's prometheus package)")
	return ""
}

// TestRules_PromtoolChecksAndTests runs promtool check rules on the shipped
// rules and promtool test rules on their unit tests (goavail.rules.test.yml:
// each alert the issue names fires, and only when it should).
func TestRules_PromtoolChecksAndTests(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "goavail.rules.yml"},
		{"test", "rules", "goavail.rules.test.yml"},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestRules_NameTheAlertsOperatorsNeed: the alerts issue 22 asks for are
// there, by name.
func TestRules_NameTheAlertsOperatorsNeed(t *testing.T) {
	b, err := os.ReadFile("goavail.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"GoavailAddressOutOfDNS", "GoavailDNSChangeQuarantined", "GoavailDNSPropagationLate", "GoavailNoWriter", "GoavailAgentIsolated", "GoavailNameConflict"} {
		if !strings.Contains(string(b), "alert: "+a+"\n") {
			t.Errorf("goavail.rules.yml has no alert %s", a)
		}
	}
}

// exported are the metric names the agent exports: every name given to a
// prometheus Opts (Name:) or NewDesc in the packages that register metrics.
func exported(t *testing.T) []string {
	t.Helper()
	re := regexp.MustCompile(`(?:Name:\s*|NewDesc\(\s*)"(goavail_[a-z0-9_]+)"`)
	var names []string
	for _, dir := range []string{"agent", "cluster", "dns", "monitor", "notify", "history"} {
		files, _ := filepath.Glob(filepath.Join("..", dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range re.FindAllSubmatch(b, -1) {
				names = append(names, string(m[1]))
			}
		}
	}
	if len(names) < 30 {
		t.Fatalf("found only %d metric names in the code: the pattern no longer matches how metrics are declared", len(names))
	}
	return names
}

// named are the goavail_* metric names text uses (histogram series
// suffixes stripped when the base name is a metric).
func named(text string, metrics []string) []string {
	var out []string
	for _, n := range regexp.MustCompile(`\bgoavail_[a-z0-9_]+`).FindAllString(text, -1) {
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(n, suf); ok && slices.Contains(metrics, base) {
				n = base
			}
		}
		out = append(out, n)
	}
	return out
}

// TestDashboardAndRules_NameOnlyExportedMetrics: every metric the
// dashboard and the rules query is one the agent exports, so that a
// renamed metric cannot leave a blank panel or an alert that never fires.
func TestDashboardAndRules_NameOnlyExportedMetrics(t *testing.T) {
	metrics := exported(t)
	for _, f := range []string{"goavail.rules.yml", "goavail.rules.test.yml", "goavail.grafana.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		used := named(string(b), metrics)
		if len(used) == 0 {
			t.Errorf("%s names no goavail metric", f)
		}
		for _, n := range used {
			if !slices.Contains(metrics, n) {
				t.Errorf("%s uses %s, which the agent does not export", f, n)
			}
		}
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	b, _ := os.ReadFile("goavail.grafana.json")
	if err := json.Unmarshal(b, &dash); err != nil || len(dash.Panels) < 10 {
		t.Fatalf("goavail.grafana.json: %v, %d panels", err, len(dash.Panels))
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 || p.Targets[0].Expr == "" {
			t.Errorf("panel %q queries nothing", p.Title)
		}
	}
}

// TestNamed_CatchesAnUnknownMetric: the check above can fail.
func TestNamed_CatchesAnUnknownMetric(t *testing.T) {
	got := named(`rate(goavail_dns_propagation_seconds_bucket[5m]) + goavail_no_such_metric`, []string{"goavail_dns_propagation_seconds"})
	if !slices.Equal(got, []string{"goavail_dns_propagation_seconds", "goavail_no_such_metric"}) {
		t.Errorf("named = %v", got)
	}
}
