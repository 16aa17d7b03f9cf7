package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// buildVersion returns the version and the commit this binary was built
// from: the ones stamped with -ldflags, else the module version (go install
// …@v1.2.3) and the VCS revision the go command stamps itself.
func buildVersion() (ver, rev string) {
	ver, rev = version, commit
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ver, rev
	}
	if ver == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		ver = bi.Main.Version
	}
	if rev == "unknown" {
		dirty := ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if rev != "unknown" {
			rev += dirty
		}
	}
	return ver, rev
}

// versionLine is what `goavail version` and `goavail --version` print.
func versionLine() string {
	ver, rev := buildVersion()
	return fmt.Sprintf("goavail %s (commit %s, %s, %s/%s)", ver, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
