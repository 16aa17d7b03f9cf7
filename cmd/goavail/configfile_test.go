package main

import (
	"bytes"
	"os"
	"os/user"
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

// TestOperator_WithoutUSER: a drain run where USER is unset (cron, a
// container) names the uid's user, or the uid, never "unknown".
func TestOperator_WithoutUSER(t *testing.T) {
	none := func(string) string { return "" }
	named := func(id string) (*user.User, error) { return &user.User{Uid: id, Username: "deploy"}, nil }
	nameless := func(id string) (*user.User, error) { return nil, user.UnknownUserIdError(1234) }
	for _, tc := range []struct {
		getenv func(string) string
		lookup func(string) (*user.User, error)
		want   string
	}{
		{none, named, "deploy@"},
		{none, nameless, "uid 1234@"},
		{func(k string) string { return map[string]string{"USER": "root", "SUDO_USER": "alice"}[k] }, nameless, "alice@"},
	} {
		if got := operatorAs(tc.getenv, 1234, tc.lookup); !strings.HasPrefix(got, tc.want) || strings.Contains(got, "unknown") {
			t.Errorf("got %q, want %q…", got, tc.want)
		}
	}
}
