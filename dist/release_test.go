package dist

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestRelease_DebInstalls builds a snapshot release with the pinned
// goreleaser (as make dist does), installs the .deb with dpkg, and checks
// what an operator gets: the binary, the unit (systemd-analyze verify), the
// config and env files as conffiles an upgrade keeps, the credentials
// directory, and a binary that reports the stamped version. It removes the
// package afterwards.
func TestRelease_DebInstalls(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("installing a package needs root")
	}
	for _, tool := range []string{"dpkg", "dpkg-query", "systemd-analyze", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make test-deps installs it)", tool)
		}
	}
	gobin := os.Getenv("GOBIN")
	if gobin == "" {
		out, _ := exec.Command("go", "env", "GOPATH").Output()
		gobin = filepath.Join(strings.TrimSpace(string(out)), "bin")
	}
	goreleaser := filepath.Join(gobin, "goreleaser")
	if _, err := os.Stat(goreleaser); err != nil {
		t.Skipf("goreleaser is not installed at %s (make test-deps installs the pinned version)", goreleaser)
	}
	if exec.Command("dpkg-query", "-W", "goavail").Run() == nil {
		t.Skip("a goavail package is already installed on this machine; not touching it")
	}
	root, _ := filepath.Abs("..")
	out := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(root, ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(out, "goreleaser.yaml")
	os.WriteFile(conf, []byte(strings.Replace(string(cfg), "dist: bin/release", "dist: "+filepath.Join(out, "release"), 1)), 0o644)
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = root
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
		}
		return string(b)
	}
	commit := strings.TrimSpace(run("git", "rev-parse", "HEAD"))
	cmd := exec.Command(goreleaser, "release", "--snapshot", "--clean", "--skip=publish", "-f", conf)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "COMMIT="+commit, "SHORT_COMMIT="+commit[:7])
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("goreleaser: %v\n%s", err, b)
	}

	debs, _ := filepath.Glob(filepath.Join(out, "release", "goavail_*_"+runtime.GOARCH+".deb"))
	rpms, _ := filepath.Glob(filepath.Join(out, "release", "goavail-*.rpm"))
	tars, _ := filepath.Glob(filepath.Join(out, "release", "goavail_*_linux_*.tar.gz"))
	if len(debs) != 1 || len(rpms) != 2 || len(tars) != 2 {
		t.Fatalf("release holds debs %v, rpms %v, tarballs %v; want one .deb for %s, two .rpm, two tarballs", debs, rpms, tars, runtime.GOARCH)
	}

	t.Cleanup(func() {
		if b, err := exec.Command("dpkg", "--purge", "goavail").CombinedOutput(); err != nil {
			t.Errorf("dpkg --purge goavail: %v\n%s", err, b)
		}
		if _, err := os.Stat("/etc/goavail/credentials/api_token"); err == nil {
			t.Error("dpkg --purge left /etc/goavail/credentials/api_token")
		}
	})
	run("dpkg", "-i", debs[0])
	os.WriteFile("/etc/goavail/credentials/api_token", []byte("s3cret\n"), 0o600) // the purge must take it

	for path, mode := range map[string]os.FileMode{
		"/usr/bin/goavail": 0o755, "/usr/lib/systemd/system/goavail.service": 0o644,
		"/etc/goavail/goavail.toml": 0o644, "/etc/goavail/goavail.env": 0o600, "/etc/goavail/credentials": os.ModeDir | 0o700,
		"/usr/share/doc/goavail/README.md": 0o644, "/usr/share/doc/goavail/docs/configuration.md": 0o644,
		"/usr/share/goavail/prometheus/goavail.rules.yml": 0o644, "/usr/share/goavail/prometheus/goavail.rules.test.yml": 0o644,
		"/usr/share/goavail/grafana/goavail.json": 0o644, "/usr/share/doc/goavail/docs/statuspage.png": 0o644,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("the package did not install %s: %v", path, err)
			continue
		}
		if fi.Mode()&(os.ModeDir|os.ModePerm) != mode {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode(), mode)
		}
	}
	conffiles := run("dpkg-query", "-W", "-f=${Conffiles}", "goavail")
	for _, f := range []string{"/etc/goavail/goavail.toml", "/etc/goavail/goavail.env"} {
		if !strings.Contains(conffiles, f) {
			t.Errorf("%s is not a conffile (an upgrade could overwrite it): %q", f, conffiles)
		}
	}

	verify, err := exec.Command("systemd-analyze", "verify", "/usr/lib/systemd/system/goavail.service").CombinedOutput()
	for _, line := range strings.Split(string(verify), "\n") {
		if strings.Contains(line, "goavail.service") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
	if err != nil && len(strings.TrimSpace(string(verify))) == 0 {
		t.Errorf("systemd-analyze verify: %v", err)
	}

	pkgVersion := strings.ReplaceAll(run("dpkg-query", "-W", "-f=${Version}", "goavail"), "~", "-")
	got := run("/usr/bin/goavail", "version")
	if !strings.HasPrefix(got, "goavail "+pkgVersion+" (commit "+commit+",") {
		t.Errorf("goavail version = %q, want version %s and commit %s", got, pkgVersion, commit)
	}
	if out := run("/usr/bin/goavail", "validate", "/etc/goavail/goavail.toml"); !strings.Contains(out, "is valid") {
		t.Errorf("the packaged config does not validate:\n%s", out)
	}

	// An upgrade (here: the same package again) keeps the operator's edits.
	f, _ := os.OpenFile("/etc/goavail/goavail.toml", os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("# edited by the operator\n")
	f.Close()
	run("dpkg", "-i", debs[0])
	if b, _ := os.ReadFile("/etc/goavail/goavail.toml"); !strings.Contains(string(b), "# edited by the operator") {
		t.Error("reinstalling the package overwrote /etc/goavail/goavail.toml")
	}
}
