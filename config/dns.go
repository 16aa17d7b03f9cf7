package config

import (
	"fmt"
	"regexp"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultPropagationBound is how long a change may take to reach the
// zone's nameservers before goavail warns. Cloudflare usually propagates in
// a few seconds.
const DefaultPropagationBound = 30 * time.Second

// DNSChanges are the [Cloudflare] keys about how changes are made and
// checked (embedded in Cloudflare).
type DNSChanges struct {
	// AccountID limits the zone lookup to one account, for tokens that
	// span accounts holding zones of the same name.
	AccountID string `toml:"account_id"`
	// PropagationBound is how long an applied change may take to show on
	// the zone's nameservers before a warning and a notification; 0 turns
	// the check off.
	PropagationBound Duration `toml:"propagation_bound"`
}

// validAccountID reports whether s is a Cloudflare account id: 32 hex digits.
func validAccountID(s string) bool {
	ok, _ := regexp.MatchString(`^[0-9a-f]{32}$`, s)
	return ok
}

func (c *Config) dnsDefaults(md toml.MetaData) {
	c.rfc2136Defaults()
	c.route53Defaults()
	if !md.IsDefined("Cloudflare", "propagation_bound") {
		c.Cloudflare.PropagationBound = Duration(DefaultPropagationBound)
	}
}

func (c *Config) dnsValidate() []error {
	var errs []error
	d := c.Cloudflare.DNSChanges
	if d.AccountID != "" && !validAccountID(d.AccountID) {
		errs = append(errs, fmt.Errorf("Cloudflare.account_id = %q: must be the account's id, 32 hex digits (dashboard: Account home, or the zone's Overview page)", d.AccountID))
	}
	if b := d.PropagationBound.D(); b != 0 && (b < time.Second || b > time.Hour) {
		errs = append(errs, fmt.Errorf("Cloudflare.propagation_bound = %s: must be 0 (no check) or from 1s to 1h", b))
	}
	return errs
}
