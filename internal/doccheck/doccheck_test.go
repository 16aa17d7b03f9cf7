package doccheck

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/goavail/goavail/config"
)

// repo is the repository's root, seen from this package's directory.
var repo = os.DirFS("../..")

// TestDocs_LinksResolve: every relative link in README.md and docs/*.md
// names a file that exists, and every #anchor a heading of its page.
func TestDocs_LinksResolve(t *testing.T) {
	files, err := docFiles(repo)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files, "docs/configuration.md") {
		t.Fatalf("docs/configuration.md is missing; found %v", files)
	}
	problems, err := brokenLinks(repo, files)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestDocs_EveryConfigKeyDocumented: every key the config structs decode,
// and every key of the original goavail that config answers with a hint,
// is named as `key` in docs/configuration.md.
func TestDocs_EveryConfigKeyDocumented(t *testing.T) {
	keys := tomlKeys(reflect.TypeFor[config.Config](), "")
	if len(keys) < 50 {
		t.Fatalf("found only %d keys in config.Config; the walk is broken: %v", len(keys), keys)
	}
	hand, err := handKeys(repo, "config", "unknownKey")
	if err != nil {
		t.Fatal(err)
	}
	if len(hand) == 0 {
		t.Fatal("found no original-goavail keys in config's unknownKey")
	}
	page, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range undocumented(string(page), append(keys, hand...)) {
		t.Errorf("docs/configuration.md does not name the config key %s (write it as `%s`)", k, k[strings.LastIndex(k, ".")+1:])
	}
}

func TestSlug(t *testing.T) {
	for _, tc := range []struct{ heading, want string }{
		{"Cluster mode", "cluster-mode"},
		{"Maintenance: drain and undrain", "maintenance-drain-and-undrain"},
		{"What `min_peers_agree` means", "what-min_peers_agree-means"},
		{"HTTP endpoints (`http_listen`, default 127.0.0.1:9800)", "http-endpoints-http_listen-default-1270019800"},
		{"Why the probe engine is built on `golang.org/x/net/icmp`, not pro-bing", "why-the-probe-engine-is-built-on-golangorgxneticmp-not-pro-bing"},
		{"See [the page](x.md) **now**", "see-the-page-now"},
		{"Probes → health", "probes--health"},
	} {
		if got := slug(tc.heading); got != tc.want {
			t.Errorf("slug(%q) = %q, want %q", tc.heading, got, tc.want)
		}
	}
}

// TestBrokenLinks_ReportsEachWithFileAndLine feeds the checker small
// pages with broken links, so the real check cannot pass vacuously.
func TestBrokenLinks_ReportsEachWithFileAndLine(t *testing.T) {
	fsys := fstest.MapFS{
		"README.md": {Data: []byte("# Top\n\n[ok](docs/a.md#setup) [ok](#top) [ok](https://example.com/#x) [ok](goavail.toml)\n" +
			"[bad](docs/missing.md)\n" +
			"[bad](docs/a.md#nowhere) and [ok](docs/a.md#setup-1)\n" +
			"```sh\n# not a heading, and [not a link](nowhere.md)\n```\n" +
			"`[not a link](nowhere.md)` [bad](#not-a-heading)\n" +
			"[bad](goavail.toml#x) [bad](../outside.md)\n")},
		"goavail.toml": {Data: []byte("")},
		"docs/a.md":    {Data: []byte("# A\n## Setup\n## Setup\n[bad](../README.md#a) [ok](../README.md#top) [ok](b.md)\n")},
		"docs/b.md":    {Data: []byte("# B\n")},
	}
	files, err := docFiles(fsys)
	if err != nil {
		t.Fatal(err)
	}
	got, err := brokenLinks(fsys, files)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`README.md:4: link "docs/missing.md": no file docs/missing.md`,
		`README.md:5: link "docs/a.md#nowhere": docs/a.md has no heading with the anchor #nowhere`,
		`README.md:9: link "#not-a-heading": README.md has no heading with the anchor #not-a-heading`,
		`README.md:10: link "goavail.toml#x": an anchor into goavail.toml, which is not Markdown`,
		`README.md:10: link "../outside.md" leaves the repository`,
		`docs/a.md:4: link "../README.md#a": README.md has no heading with the anchor #a`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestUndocumented_FindsMissingKeys runs the key walk and the page check
// on a small config type, so the real check cannot pass vacuously.
func TestUndocumented_FindsMissingKeys(t *testing.T) {
	type check struct {
		Type string `toml:"type"`
		Port *int   `toml:"port"`
	}
	type embedded struct {
		AccountID string `toml:"account_id"`
	}
	type block struct {
		TTL    int     `toml:"ttl"`
		Checks []check `toml:"Checks"`
		embedded
	}
	type root struct {
		Interval config.Duration `toml:"interval"`
		Block    block           `toml:"Block"`
		Groups   []block         `toml:"Groups"`
		Derived  []string        `toml:"-"`
		hidden   int
		Notes    map[string]string `toml:"notes,omitempty"`
	}
	_ = root{}.hidden
	keys := tomlKeys(reflect.TypeFor[root](), "")
	var paths []string
	for _, k := range keys {
		paths = append(paths, k.path)
	}
	wantPaths := []string{"interval", "Block", "Block.ttl", "Block.Checks", "Block.Checks.type", "Block.Checks.port", "Block.account_id",
		"Groups", "Groups.ttl", "Groups.Checks", "Groups.Checks.type", "Groups.Checks.port", "Groups.account_id", "notes"}
	if !slices.Equal(paths, wantPaths) {
		t.Fatalf("tomlKeys = %v, want %v", paths, wantPaths)
	}
	page := "# Keys\n`interval`, `[Block]` `ttl`, `[[Block.Checks]]` `type`\n" +
		"```toml\nport = 1\naccount_id = \"x\"\n```\n" +
		"Groups is not in code, `[[Groupsx]]` is another table, and `not` `account id`\n"
	got := undocumented(page, keys)
	want := []string{"Block.Checks.port", "Block.account_id", "Groups", "Groups.Checks.port", "Groups.account_id", "notes"}
	if !slices.Equal(got, want) {
		t.Errorf("undocumented = %v, want %v", got, want)
	}
}

// TestHandKeys_ReadsUnknownKey finds the literals a function compares keys
// with, and fails loudly when the function is gone.
func TestHandKeys_ReadsUnknownKey(t *testing.T) {
	src := "package config\n\nfunc unknownKey(k []string) string {\n\tname := k[0]\n\tswitch {\n" +
		"\tcase k[0] == \"Route53\":\n\t\treturn \"a\"\n\tcase name == \"slack_addr\":\n\t\treturn \"b\"\n\t}\n\treturn \"\"\n}\n"
	fsys := fstest.MapFS{"config/c.go": {Data: []byte(src)}, "config/c_test.go": {Data: []byte("package config\nfunc unknownKey() { _ = x == \"test_only\" }\n")}}
	got, err := handKeys(fsys, "config", "unknownKey")
	if err != nil {
		t.Fatal(err)
	}
	want := []key{{"Route53", true}, {"slack_addr", false}}
	if !slices.Equal(got, want) {
		t.Errorf("handKeys = %v, want %v", got, want)
	}
	if _, err := handKeys(fsys, "config", "renamed"); err == nil {
		t.Error("handKeys found a function that does not exist")
	}
}

// TestREADME_QuickStartConfigIsValid: the config the quick start tells a
// newcomer to copy is one goavail accepts.
func TestREADME_QuickStartConfigIsValid(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, quick, ok := strings.Cut(string(b), "\n## Quick start\n")
	if !ok {
		t.Fatal("README.md has no \"## Quick start\" section")
	}
	quick, _, _ = strings.Cut(quick, "\n## ")
	_, block, ok := strings.Cut(quick, "```toml\n")
	if !ok {
		t.Fatal("the quick start has no ```toml block to copy")
	}
	block, _, _ = strings.Cut(block, "```")
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		lines = append(lines, strings.TrimSpace(l)) // the block is indented inside a list item
	}
	if _, err := config.Parse(strings.Join(lines, "\n")); err != nil {
		t.Errorf("the quick start's config is not valid:\n%s\n%v", block, err)
	}
}
