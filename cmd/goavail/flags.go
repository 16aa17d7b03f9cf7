package main

import (
	"regexp"

	"github.com/urfave/cli/v2"
)

var reUndefinedFlag = regexp.MustCompile(`flag provided but not defined: -+(\S+)`)

// oldFlags answers the original goavail's flags that this one does not
// read, with what to do instead.
var oldFlags = map[string]string{
	"debug":        "--debug is the original goavail's flag: use --log-level debug",
	"b":            "-b (--debug) is the original goavail's flag: use --log-level debug",
	"type":         "--type is the original goavail's flag: goavail probes with ICMP; remove it",
	"t":            "-t (--type) is the original goavail's flag: goavail probes with ICMP; remove it",
	"dns-provider": "--dns-provider is the original goavail's flag: Cloudflare is the only provider; remove it",
	"p":            "-p (--dns-provider) is the original goavail's flag: Cloudflare is the only provider; remove it",
	"laddr":        "--laddr is the original goavail's flag: set local_addr in [Members] (and http_listen for the HTTP endpoints) in the config file",
}

// onUsageError turns a flag error into one line that names the fix,
// instead of the library's bare message and the whole help text.
func onUsageError(c *cli.Context, err error, _ bool) error {
	name := "goavail"
	if c.Command != nil && c.Command.Name != "" {
		name = c.Command.Name
	}
	if m := reUndefinedFlag.FindStringSubmatch(err.Error()); m != nil {
		if hint, ok := oldFlags[m[1]]; ok {
			return usageError("%s", hint)
		}
		return usageError("%s: unknown flag -%s%s (goavail %s --help lists the flags)", name, dashes(m[1]), m[1], name)
	}
	return usageError("%s: %v (goavail %s --help)", name, err, name)
}

func dashes(flag string) string {
	if len(flag) > 1 {
		return "-"
	}
	return ""
}
