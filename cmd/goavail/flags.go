package main

import (
	"regexp"
	"strings"

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
	"dns-provider": "--dns-provider is the original goavail's flag: remove it; a [[Records]] table names its provider (provider = \"cloudflare\", the default, or \"rfc2136\")",
	"p":            "-p (--dns-provider) is the original goavail's flag: remove it; a [[Records]] table names its provider (provider = \"cloudflare\", the default, or \"rfc2136\")",
	"laddr":        "--laddr is the original goavail's flag: set local_addr in [Members] (and http_listen for the HTTP endpoints) in the config file",
}

// onUsageError turns a flag error into one line that names the fix,
// instead of the library's bare message and the whole help text.
func onUsageError(c *cli.Context, err error, _ bool) error {
	prefix, help := "", "goavail --help"
	if c.Command != nil && c.Command.Name != "" && c.Command.Name != c.App.Name {
		prefix, help = c.Command.Name+": ", "goavail "+c.Command.Name+" --help"
	}
	if m := reUndefinedFlag.FindStringSubmatch(err.Error()); m != nil {
		if hint, ok := oldFlags[m[1]]; ok {
			return usageError("%s", hint)
		}
		return usageError("%sunknown flag -%s%s (%s lists the flags)", prefix, dashes(m[1]), m[1], help)
	}
	return usageError("%s%v (%s)", prefix, err, help)
}

func dashes(flag string) string {
	if len(flag) > 1 {
		return "-"
	}
	return ""
}

// flagsFirst moves a command's flags before its arguments, so that
// "goavail drain 192.0.2.10 --reason x" and "goavail monitor goavail.toml
// --no-dry-run" mean what they say (urfave/cli stops reading flags at the
// first argument). "--" ends the flags.
func flagsFirst(app *cli.App, args []string) []string {
	// The original goavail took -f before the command too.
	if len(args) >= 4 && (args[1] == "-f" || args[1] == "--config-file") && app.Command(args[3]) != nil {
		args = append([]string{args[0], args[3], args[1], args[2]}, args[4:]...)
	}
	if len(args) < 3 {
		return args
	}
	cmd := app.Command(args[1])
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, rest []string
	for i := 2; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		default:
			rest = append(rest, a)
		}
	}
	out := append([]string{args[0], args[1]}, flags...)
	if len(rest) > 0 {
		out = append(append(out, "--"), rest...)
	}
	return out
}
