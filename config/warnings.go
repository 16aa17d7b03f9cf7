package config

import "fmt"

// Warnings returns what an operator should know about the file that is not
// an error: the Members block's (see Members.Warnings) and the record
// groups' (see RecordWarnings).
func (c *Config) Warnings() []string {
	return append(c.Members.Warnings(), c.RecordWarnings()...)
}

// RecordWarnings returns one line per record group whose ttl is from 30 to
// 59 seconds: the config accepts it, but Cloudflare allows a ttl under 60
// only on Enterprise zones, and refuses every restore of the group
// elsewhere (code 9021, quarantined).
func (c *Config) RecordWarnings() []string {
	var out []string
	for _, g := range c.Groups {
		if g.TTL >= 30 && g.TTL < 60 {
			out = append(out, fmt.Sprintf("ttl = %d for %s (zone %s): Cloudflare accepts a ttl under 60 seconds only on Enterprise zones; "+
				"on other plans every record goavail restores there is refused (code 9021) and quarantined; use 60 or more, or 1 (automatic)",
				g.TTL, g.Hostnames[0], g.Zone))
		}
	}
	return out
}
