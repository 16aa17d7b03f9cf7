package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDefaultConfig_FallsBackToThePackagedFile: with no file named,
// every command reads ./goavail.toml, else /etc/goavail/goavail.toml
// (validate and monitor used to look in the working directory only, while
// status and drain fell back).
func TestDefaultConfig_FallsBackToThePackagedFile(t *testing.T) {
	for _, tc := range []struct {
		have []string
		want string
	}{
		{[]string{localConfig, packagedConfig}, localConfig},
		{[]string{packagedConfig}, packagedConfig},
		{[]string{localConfig}, localConfig},
		{nil, localConfig},
	} {
		exists := func(p string) bool {
			for _, h := range tc.have {
				if p == h {
					return true
				}
			}
			return false
		}
		if got := defaultConfig(exists); got != tc.want {
			t.Errorf("with %v: %s, want %s", tc.have, got, tc.want)
		}
	}
}

// TestValidate_SaysWhichFileAndWhereItLooked: validate names the file it
// read; with none at all it says both places it looked.
func TestValidate_SaysWhichFileAndWhereItLooked(t *testing.T) {
	unsetenv(t, "GOAVAIL_CONFIG")
	good, err := filepath.Abs("testdata/cli/good.toml")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	var out, errb bytes.Buffer
	code := run([]string{"goavail", "validate"}, &out, &errb)
	if exists(packagedConfig) {
		t.Skip(packagedConfig + " exists on this machine")
	}
	if code != exitConfig || !strings.Contains(errb.String(), "neither ./goavail.toml nor /etc/goavail/goavail.toml exists") {
		t.Errorf("no file: exit %d: %s", code, errb.String())
	}
	b, _ := os.ReadFile(good)
	os.WriteFile("goavail.toml", b, 0o600)
	out.Reset()
	if code := run([]string{"goavail", "validate"}, &out, &errb); code != exitOK || !strings.HasPrefix(out.String(), "# goavail.toml is valid") {
		t.Errorf("./goavail.toml: exit %d: %s", code, out.String())
	}
}
