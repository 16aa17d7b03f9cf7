package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLI_Golden runs each command line of testdata/cli/cases.txt in
// process and compares its exit code, stdout and stderr with
// testdata/cli/NAME.golden: what an operator sees for each first-day
// mistake (go test -run CLI_Golden ./cmd/goavail -args -update rewrites
// them).
func TestCLI_Golden(t *testing.T) {
	unsetenv(t, "GOAVAIL_CONFIG", "GOAVAIL_API_TOKEN", "GOAVAIL_API_TOKEN_FILE", "GOAVAIL_TSIG_SECRET", "GOAVAIL_TSIG_SECRET_FILE", "CREDENTIALS_DIRECTORY", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY", "CF_API_KEY", "STATE_DIRECTORY", "CLOUDFLARE_BASE_URL")
	cases, err := os.ReadFile("testdata/cli/cases.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(cases), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, argv, _ := strings.Cut(line, "|")
		name = strings.TrimSpace(name)
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"goavail"}, strings.Fields(argv)...), &stdout, &stderr)
			got := fmt.Sprintf("$ goavail%s\nexit %d\n--- stdout\n%s--- stderr\n%s", argv, code, stdout.String(), stderr.String())
			golden := filepath.Join("testdata/cli", name+".golden")
			checkGolden(t, golden, []byte(got))
		})
	}
}

// TestCLI_VersionAgrees: `goavail version` and `goavail --version` print
// the same line, with the commit (never "unknown" once Go stamped one).
func TestCLI_VersionAgrees(t *testing.T) {
	var a, b, c bytes.Buffer
	if run([]string{"goavail", "version"}, &a, &c) != 0 || run([]string{"goavail", "--version"}, &b, &c) != 0 {
		t.Fatalf("version failed: %s", c.String())
	}
	if a.String() != b.String() || !strings.HasPrefix(a.String(), "goavail ") || !strings.Contains(a.String(), "(commit ") {
		t.Errorf("version = %q, --version = %q", a.String(), b.String())
	}
}

// TestCLI_ExitCodes: every usage mistake exits 2, as the README says; a
// valid file 0.
func TestCLI_ExitCodes(t *testing.T) {
	for _, argv := range [][]string{{"nope"}, {"monitor", "--debug"}, {"keygen", "x"}, {"validate", "testdata/cli/bad.toml"}} {
		if code := run(append([]string{"goavail"}, argv...), &bytes.Buffer{}, &bytes.Buffer{}); code != exitConfig {
			t.Errorf("goavail %v exited %d, want %d", argv, code, exitConfig)
		}
	}
	if code := run([]string{"goavail", "validate", "testdata/cli/good.toml"}, &bytes.Buffer{}, &bytes.Buffer{}); code != exitOK {
		t.Errorf("validate of a good file exited %d", code)
	}
}

// unsetenv removes environment variables for the test (set but empty is
// not the same as unset for flags read from the environment).
func unsetenv(t *testing.T, keys ...string) {
	for _, k := range keys {
		t.Setenv(k, "") // registers the restore
		os.Unsetenv(k)
	}
}
