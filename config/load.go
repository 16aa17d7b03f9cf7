package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads and parses the file at path. See Parse.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes TOML text into a fresh Config, applies defaults and
// validates it. Every problem is reported, joined into one error.
func Parse(text string) (*Config, error) {
	c := &Config{}
	md, errs, dropped, err := decode(text, c)
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	reported := map[string]bool{}
	for _, k := range md.Undecoded() {
		if len(k) > 1 && reported[k[:len(k)-1].String()] {
			continue // a key inside a table that is itself unknown
		}
		reported[k.String()] = true
		errs = append(errs, unknownKey(k))
	}
	c.applyDefaults(md)
	for _, e := range c.validate() {
		if !aboutDropped(e, dropped) {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// unknownKey words the error for a key goavail does not read. Keys the
// original goavail had but this one dropped get a hint of their own.
func unknownKey(k toml.Key) error {
	name := k.String()
	switch {
	case k[0] == "Route53" && strings.HasPrefix(strings.ToLower(name), "route53.aws_access") || strings.HasPrefix(strings.ToLower(name), "route53.aws_secret"):
		return fmt.Errorf("%s: AWS credentials never go in the config file; goavail reads them from the AWS SDK's default chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ~/.aws/credentials, or the instance's role)", name)
	case name == "slack_addr":
		return fmt.Errorf("slack_addr: no longer read; add a [[Webhooks]] table with url = \"env:SLACK_WEBHOOK_URL\" and format = \"slack\"")
	case name == "port":
		return errors.New("port: no longer read; use ports = [80] for TCP checks on every address, or a [[Records.Checks]] table")
	}
	if s := suggestKey(name); s != "" {
		return fmt.Errorf("%s: unknown key; did you mean %s?", name, keyWords(s, name))
	}
	return fmt.Errorf("%s: unknown key (check its spelling and the block it is in)", name)
}

// keyWords names the dotted key path as the file writes it, with its block
// when that differs from the block of unknown: "interval (at the top
// level)", "peers in [Members]".
func keyWords(path, unknown string) string {
	block := func(p string) string {
		if i := strings.LastIndexByte(p, '.'); i >= 0 {
			return p[:i]
		}
		return ""
	}
	b := block(path)
	name := strings.TrimPrefix(path, b+".")
	switch {
	case b == block(unknown):
		return name
	case b == "":
		return name + " (at the top level)"
	}
	return name + " in [" + b + "]"
}
