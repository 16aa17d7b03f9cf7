package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CheckTypes are the kinds of health check a group or address can have.
var CheckTypes = []string{"icmp", "tcp", "http", "https"}

// CheckConfig is one [[Records.Checks]] (or [[Cloudflare.Checks]]) table as
// written. Names follow prometheus blackbox_exporter where it has one.
type CheckConfig struct {
	Type string `toml:"type"` // icmp (default), tcp, http or https
	Port int    `toml:"port"` // tcp: required; http 80, https 443
	// Addresses limits the check to these of the group's addresses; empty:
	// every address of the group.
	Addresses []string `toml:"addresses"`

	Interval         Duration `toml:"interval"`          // default: the global interval
	Timeout          Duration `toml:"timeout"`           // default: the global probe_timeout
	FailureThreshold int      `toml:"failure_threshold"` // default: the global one
	RiseThreshold    int      `toml:"rise_threshold"`    // default: the global one

	Path                       string            `toml:"path"`   // default "/"
	Method                     string            `toml:"method"` // GET (default) or HEAD
	Host                       string            `toml:"host"`   // Host header and SNI; default: the group's first hostname
	ValidStatusCodes           StatusCodes       `toml:"valid_status_codes"`
	FailIfBodyNotMatchesRegexp []string          `toml:"fail_if_body_not_matches_regexp"`
	FailIfBodyMatchesRegexp    []string          `toml:"fail_if_body_matches_regexp"`
	Headers                    map[string]string `toml:"headers"`
	FollowRedirects            bool              `toml:"follow_redirects"`  // default false, unlike blackbox: a redirect leads away from the checked address
	TLSVerify                  *bool             `toml:"tls_verify"`        // default true
	TLSMinDaysLeft             float64           `toml:"tls_min_days_left"` // 0: off
	TLSCAFile                  string            `toml:"tls_ca_file"`       // default: the system roots
}

// StatusCodes is valid_status_codes: a list of codes (200) and classes
// ("2xx"), integers or strings.
type StatusCodes []string

// UnmarshalTOML accepts a list of integers and strings.
func (s *StatusCodes) UnmarshalTOML(v any) error {
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("valid_status_codes is a %T; give a list such as [\"2xx\", 301]", v)
	}
	out := make(StatusCodes, 0, len(list))
	for _, e := range list {
		switch e := e.(type) {
		case int64:
			out = append(out, strconv.FormatInt(e, 10))
		case string:
			out = append(out, e)
		default:
			return fmt.Errorf("valid_status_codes: %v is a %T; give codes (200) or classes (\"2xx\")", e, e)
		}
	}
	*s = out
	return nil
}

// Check is one effective health check: defaults applied, everything
// validated. Package cmd turns it into a monitor check.
type Check struct {
	Type     string
	Port     int
	Addrs    []netip.Addr // nil: every address of the group
	Interval time.Duration
	Timeout  time.Duration
	Fall     int
	Rise     int

	Path, Method, Host string
	StatusCodes        []StatusRange
	BodyMustMatch      []*regexp.Regexp
	BodyMustNotMatch   []*regexp.Regexp
	Headers            map[string]string
	FollowRedirects    bool
	TLSVerify          bool
	TLSMinDaysLeft     float64
	TLSCAFile          string
	TLSCAPEM           []byte // the contents of TLSCAFile, read at load
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Lo, Hi int }

// String renders the range as the operator wrote it: 200 or 2xx.
func (r StatusRange) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(r.Lo)
	}
	return fmt.Sprintf("%dxx", r.Lo/100)
}

// Key is the check's identity on an address: its type, port and, for HTTP,
// path (two checks with the same key on one address are refused).
func (c Check) Key() string {
	switch c.Type {
	case "icmp":
		return "icmp"
	case "tcp":
		return fmt.Sprintf("tcp:%d", c.Port)
	}
	return fmt.Sprintf("%s:%d%s", c.Type, c.Port, c.Path)
}

// canonical renders every setting that changes what the check decides,
// for the fingerprint.
func (c Check) canonical() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s i=%s t=%s f=%d r=%d", c.Key(), c.Interval, c.Timeout, c.Fall, c.Rise)
	if len(c.Addrs) > 0 {
		addrs := slices.Clone(c.Addrs)
		slices.SortFunc(addrs, netip.Addr.Compare)
		fmt.Fprintf(&b, " a=%v", addrs)
	}
	if c.Type == "http" || c.Type == "https" {
		hdr := make([]string, 0, len(c.Headers))
		for k, v := range c.Headers {
			hdr = append(hdr, k+"="+v)
		}
		slices.Sort(hdr)
		fmt.Fprintf(&b, " m=%s h=%s codes=%v must=%v mustnot=%v hdr=%q redir=%t verify=%t days=%g ca=%x",
			c.Method, c.Host, c.StatusCodes, c.BodyMustMatch, c.BodyMustNotMatch, hdr, c.FollowRedirects, c.TLSVerify, c.TLSMinDaysLeft, c.TLSCAPEM)
	}
	return b.String()
}

// AddrChecks is what decides one address's health: all its checks must be
// up, or with Any, one of them.
type AddrChecks struct {
	Checks []Check
	Any    bool
}

// defaultChecks reports whether a group's checks are the implicit single
// ICMP check with the global settings (what goavail did before checks).
func (g Group) defaultChecks() bool {
	return !g.MatchAny && len(g.Checks) == 1 && g.Checks[0].Type == "icmp" && g.Checks[0].Addrs == nil && g.implicitICMP
}

// checksFingerprint is the part of the fingerprint that covers the checks;
// empty for a group with only the implicit ICMP check, so that agents
// configured before checks existed keep their fingerprint.
func (g Group) checksFingerprint() string {
	if g.defaultChecks() {
		return ""
	}
	parts := make([]string, len(g.Checks))
	for i, c := range g.Checks {
		parts[i] = c.canonical()
	}
	slices.Sort(parts)
	return fmt.Sprintf("|match any=%t|%s", g.MatchAny, strings.Join(parts, ";"))
}

// buildChecks validates a group's checks and its match key and fills
// g.Checks and g.MatchAny. where names the group ("Records[0]").
func (c *Config) buildChecks(where string, raw []CheckConfig, match *string, g *Group) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if match != nil {
		switch *match {
		case "", "all":
		case "any":
			g.MatchAny = true
		default:
			bad("%s.match = %q: must be all (every check up) or any (one check up)", where, *match)
		}
	}
	fromPorts := false
	if len(raw) == 0 {
		if len(c.Ports) > 0 {
			fromPorts = true // the original goavail's key: TCP checks on these ports
			for _, p := range c.Ports {
				if p >= 1 && p <= 65535 { // validate reports the others once
					raw = append(raw, CheckConfig{Type: "tcp", Port: p})
				}
			}
		} else {
			raw = []CheckConfig{{Type: "icmp"}}
			g.implicitICMP = true
		}
	}
	seen := map[string]bool{}
	for i, rc := range raw {
		w := fmt.Sprintf("%s.Checks[%d]", where, i)
		if fromPorts {
			w = fmt.Sprintf("ports[%d]", i)
		}
		chk, cerrs := c.buildCheck(w, rc, g)
		errs = append(errs, cerrs...)
		if len(cerrs) > 0 {
			continue
		}
		for _, a := range keyAddrs(chk, g) {
			k := a.String() + " " + chk.Key()
			if seen[k] {
				bad("%s: a second %s check on %s; one check of a kind, port and path per address", w, chk.Key(), a)
				break
			}
			seen[k] = true
		}
		g.Checks = append(g.Checks, chk)
	}
	if len(errs) == 0 {
		for _, a := range g.Addrs {
			covered := false
			for _, chk := range g.Checks {
				covered = covered || chk.Addrs == nil || slices.Contains(chk.Addrs, a)
			}
			if !covered {
				bad("%s.ip_addresses: %s has no check (every check lists other addresses); add one without addresses", where, a)
			}
		}
	}
	return errs
}

func keyAddrs(chk Check, g *Group) []netip.Addr {
	if chk.Addrs != nil {
		return chk.Addrs
	}
	return g.Addrs
}

// buildCheck applies defaults to one check and validates it.
func (c *Config) buildCheck(w string, rc CheckConfig, g *Group) (Check, []error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(w+"."+format, a...)) }
	chk := Check{Type: rc.Type, Port: rc.Port, Interval: rc.Interval.D(), Timeout: rc.Timeout.D(), Fall: rc.FailureThreshold, Rise: rc.RiseThreshold,
		Path: rc.Path, Method: strings.ToUpper(rc.Method), Host: normalizeName(rc.Host), Headers: rc.Headers, FollowRedirects: rc.FollowRedirects,
		TLSVerify: rc.TLSVerify == nil || *rc.TLSVerify, TLSMinDaysLeft: rc.TLSMinDaysLeft, TLSCAFile: rc.TLSCAFile}
	if chk.Type == "" {
		chk.Type = "icmp"
	}
	if !slices.Contains(CheckTypes, chk.Type) {
		bad("type = %q: unknown check type; use %s", rc.Type, strings.Join(CheckTypes, ", "))
		return chk, errs
	}
	web := chk.Type == "http" || chk.Type == "https"
	// Keys that mean nothing for this type are mistakes, not defaults.
	unused := []struct {
		key string
		set bool
		ok  bool
	}{
		{"port", rc.Port != 0, chk.Type != "icmp"},
		{"interval", rc.Interval != 0, chk.Type != "icmp"},
		{"timeout", rc.Timeout != 0, chk.Type != "icmp"},
		{"path", rc.Path != "", web}, {"method", rc.Method != "", web}, {"host", rc.Host != "", web},
		{"valid_status_codes", rc.ValidStatusCodes != nil, web}, {"headers", rc.Headers != nil, web},
		{"fail_if_body_not_matches_regexp", rc.FailIfBodyNotMatchesRegexp != nil, web},
		{"fail_if_body_matches_regexp", rc.FailIfBodyMatchesRegexp != nil, web},
		{"follow_redirects", rc.FollowRedirects, web},
		{"tls_verify", rc.TLSVerify != nil, chk.Type == "https"}, {"tls_min_days_left", rc.TLSMinDaysLeft != 0, chk.Type == "https"},
		{"tls_ca_file", rc.TLSCAFile != "", chk.Type == "https"},
	}
	for _, u := range unused {
		if u.set && !u.ok {
			hint := ""
			if chk.Type == "icmp" && (u.key == "interval" || u.key == "timeout") {
				hint = "; icmp checks share the global interval and probe_timeout (one ICMP schedule for every address)"
			}
			bad("%s: not used by %s checks%s", u.key, chk.Type, hint)
		}
	}

	if chk.Interval == 0 || chk.Type == "icmp" {
		chk.Interval = c.Interval.D()
	}
	if chk.Timeout == 0 || chk.Type == "icmp" {
		chk.Timeout = min(c.ProbeTimeout.D(), chk.Interval)
	}
	if chk.Fall == 0 {
		chk.Fall = c.FailureThreshold
	}
	if chk.Rise == 0 {
		chk.Rise = c.RiseThreshold
	}
	// Inherited values are checked (once) where they are set.
	if rc.Interval != 0 && (chk.Interval < 100*time.Millisecond || chk.Interval > time.Hour) {
		bad("interval = %s: must be from 100ms to 1h", chk.Interval)
	}
	if (rc.Timeout != 0 || rc.Interval != 0) && (chk.Timeout < 10*time.Millisecond || chk.Timeout > chk.Interval) {
		bad("timeout = %s: must be from 10ms to the check's interval (%s)", chk.Timeout, chk.Interval)
	}
	if rc.FailureThreshold != 0 && (chk.Fall < 1 || chk.Fall > 1000) {
		bad("failure_threshold = %d: must be from 1 to 1000", chk.Fall)
	}
	if rc.RiseThreshold != 0 && (chk.Rise < 1 || chk.Rise > 1000) {
		bad("rise_threshold = %d: must be from 1 to 1000", chk.Rise)
	}
	switch {
	case chk.Port == 0 && chk.Type == "http":
		chk.Port = 80
	case chk.Port == 0 && chk.Type == "https":
		chk.Port = 443
	case chk.Port == 0 && chk.Type == "tcp":
		bad("port: missing; a tcp check needs the port to connect to")
	case chk.Type != "icmp" && (chk.Port < 1 || chk.Port > 65535):
		bad("port = %d: must be from 1 to 65535", chk.Port)
	}
	for _, s := range rc.Addresses {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err == nil {
			a = a.Unmap()
		}
		if err != nil || !slices.Contains(g.Addrs, a) {
			bad("addresses: %q is not one of the group's ip_addresses", s)
			continue
		}
		if !slices.Contains(chk.Addrs, a) {
			chk.Addrs = append(chk.Addrs, a)
		}
	}
	if web {
		errs = append(errs, chk.buildWeb(w, rc, g)...)
	}
	return chk, errs
}

// buildWeb applies the HTTP(S) defaults and validates them.
func (chk *Check) buildWeb(w string, rc CheckConfig, g *Group) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(w+"."+format, a...)) }
	if chk.Path == "" {
		chk.Path = "/"
	}
	if !strings.HasPrefix(chk.Path, "/") || strings.ContainsAny(chk.Path, " \r\n#") {
		bad("path = %q: must start with / and hold no spaces or fragment", rc.Path)
	}
	switch chk.Method {
	case "":
		chk.Method = "GET"
	case "GET", "HEAD":
	default:
		bad("method = %q: must be GET or HEAD", rc.Method)
	}
	if chk.Host == "" && len(g.Hostnames) > 0 {
		chk.Host = g.Hostnames[0]
	} else if err := checkDNSName(chk.Host); err != nil && chk.Host != "" {
		bad("host = %q: %v", rc.Host, err)
	}
	codes := rc.ValidStatusCodes
	if codes == nil {
		codes = StatusCodes{"2xx"}
	}
	if len(codes) == 0 {
		bad("valid_status_codes = []: no status could ever be up; leave the key out for 2xx")
	}
	for _, s := range codes {
		r, err := parseStatus(s)
		if err != nil {
			bad("valid_status_codes: %q %v", s, err)
			continue
		}
		chk.StatusCodes = append(chk.StatusCodes, r)
	}
	for _, list := range []struct {
		key  string
		in   []string
		into *[]*regexp.Regexp
	}{{"fail_if_body_not_matches_regexp", rc.FailIfBodyNotMatchesRegexp, &chk.BodyMustMatch}, {"fail_if_body_matches_regexp", rc.FailIfBodyMatchesRegexp, &chk.BodyMustNotMatch}} {
		for _, s := range list.in {
			re, err := regexp.Compile(s)
			if err != nil {
				bad("%s: %q is not a regular expression: %v", list.key, s, err)
				continue
			}
			*list.into = append(*list.into, re)
		}
	}
	if (len(chk.BodyMustMatch) > 0 || len(chk.BodyMustNotMatch) > 0) && chk.Method == "HEAD" {
		bad("method = \"HEAD\": a HEAD response has no body for the body regexps to match")
	}
	for k := range rc.Headers {
		if strings.EqualFold(k, "host") {
			bad("headers: set the Host header with the host key (it is also the TLS server name)")
		}
		if k == "" || strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(rc.Headers[k], "\r\n") {
			bad("headers: %q is not a valid header", k)
		}
	}
	if chk.TLSMinDaysLeft < 0 || chk.TLSMinDaysLeft > 3650 {
		bad("tls_min_days_left = %g: must be from 0 (off) to 3650", chk.TLSMinDaysLeft)
	}
	if chk.TLSMinDaysLeft > 0 && !chk.TLSVerify {
		bad("tls_min_days_left: needs tls_verify = true; an unverified certificate's dates mean nothing")
	}
	if chk.TLSCAFile != "" {
		pem, err := os.ReadFile(chk.TLSCAFile)
		if err == nil && !x509.NewCertPool().AppendCertsFromPEM(pem) {
			err = fmt.Errorf("no PEM certificate in it")
		}
		if err != nil {
			bad("tls_ca_file = %q: %v", chk.TLSCAFile, err)
		}
		chk.TLSCAPEM = pem
	}
	return errs
}

// parseStatus reads "200", "2xx" into a range; codes outside 100–599 can
// never match.
func parseStatus(s string) (StatusRange, error) {
	never := fmt.Errorf("can never match; HTTP status codes are 100 to 599 (write 200 or \"2xx\")")
	if len(s) == 3 && strings.EqualFold(s[1:], "xx") {
		d := int(s[0] - '0')
		if d < 1 || d > 5 {
			return StatusRange{}, never
		}
		return StatusRange{d * 100, d*100 + 99}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return StatusRange{}, fmt.Errorf("is neither a code (200) nor a class (\"2xx\")")
	}
	if n < 100 || n > 599 {
		return StatusRange{}, never
	}
	return StatusRange{n, n}, nil
}

// AddrChecks returns, for every monitored address, the checks that decide
// its health. An address in several groups must get the same checks and
// match from each (validate refuses anything else).
func (c *Config) AddrChecks() map[netip.Addr]AddrChecks {
	n := 0
	for _, g := range c.Groups {
		n += len(g.Addrs)
	}
	out := make(map[netip.Addr]AddrChecks, n)
	for _, g := range c.Groups {
		for _, a := range g.Addrs {
			if _, ok := out[a]; ok {
				continue
			}
			ac := AddrChecks{Any: g.MatchAny}
			for _, chk := range g.Checks {
				if chk.Addrs == nil || slices.Contains(chk.Addrs, a) {
					ac.Checks = append(ac.Checks, chk)
				}
			}
			out[a] = ac
		}
	}
	return out
}

// ICMPAddrs returns the addresses with an ICMP check, in configuration order.
func (c *Config) ICMPAddrs() []netip.Addr {
	ac := c.AddrChecks()
	var out []netip.Addr
	for _, a := range c.Addrs() {
		for _, chk := range ac[a].Checks {
			if chk.Type == "icmp" {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// validateSharedChecks refuses an address that two groups would check
// differently: it has one health, and DNS follows it in every group.
func (c *Config) validateSharedChecks() []error {
	var errs []error
	type owner struct {
		where int
		key   string
	}
	first := map[netip.Addr]owner{}
	for gi, g := range c.Groups {
		for _, a := range g.Addrs {
			var parts []string
			for _, chk := range g.Checks {
				if chk.Addrs == nil || slices.Contains(chk.Addrs, a) {
					chk.Addrs = nil
					parts = append(parts, chk.canonical())
				}
			}
			slices.Sort(parts)
			key := fmt.Sprintf("%t|%s", g.MatchAny, strings.Join(parts, ";"))
			if prev, ok := first[a]; !ok {
				first[a] = owner{gi, key}
			} else if prev.key != key {
				errs = append(errs, fmt.Errorf("%s is in the groups of %s and %s with different checks or match; an address has one health, so give it the same checks in both",
					a, c.Groups[prev.where].Zone, g.Zone))
			}
		}
	}
	return errs
}

// portsNotice is the info line for the original goavail's ports key.
func (c *Config) portsNotice() string {
	if len(c.Ports) == 0 {
		return ""
	}
	ports := make([]string, len(c.Ports))
	for i, p := range c.Ports {
		ports[i] = strconv.Itoa(p)
	}
	return fmt.Sprintf("ports = [%s] (the original goavail's key): every address of a group without [[Checks]] gets a TCP check on each of these ports instead of ICMP", strings.Join(ports, ", "))
}

// effectiveCheck is a check as goavail validate prints it.
type effectiveCheck struct {
	Type             string            `toml:"type"`
	Port             int               `toml:"port,omitzero"`
	Addresses        []string          `toml:"addresses,omitempty"`
	Interval         Duration          `toml:"interval,omitzero"` // icmp: the global one
	Timeout          Duration          `toml:"timeout,omitzero"`
	FailureThreshold int               `toml:"failure_threshold"`
	RiseThreshold    int               `toml:"rise_threshold"`
	Path             string            `toml:"path,omitempty"`
	Method           string            `toml:"method,omitempty"`
	Host             string            `toml:"host,omitempty"`
	ValidStatusCodes []string          `toml:"valid_status_codes,omitempty"`
	MustMatch        []string          `toml:"fail_if_body_not_matches_regexp,omitempty"`
	MustNotMatch     []string          `toml:"fail_if_body_matches_regexp,omitempty"`
	Headers          map[string]string `toml:"headers,omitempty"`
	FollowRedirects  bool              `toml:"follow_redirects,omitempty"`
	TLSVerify        *bool             `toml:"tls_verify,omitempty"`
	TLSMinDaysLeft   float64           `toml:"tls_min_days_left,omitzero"`
	TLSCAFile        string            `toml:"tls_ca_file,omitempty"`
}

func (g Group) match() string {
	if g.MatchAny {
		return "any"
	}
	return "all"
}

func (g Group) effectiveChecks() []effectiveCheck {
	if g.defaultChecks() {
		return nil // as before checks existed: ICMP with the global settings
	}
	out := make([]effectiveCheck, 0, len(g.Checks))
	for _, c := range g.Checks {
		e := effectiveCheck{Type: c.Type, Interval: Duration(c.Interval), Timeout: Duration(c.Timeout), FailureThreshold: c.Fall, RiseThreshold: c.Rise,
			Path: c.Path, Method: c.Method, Host: c.Host, Headers: c.Headers, FollowRedirects: c.FollowRedirects, TLSMinDaysLeft: c.TLSMinDaysLeft, TLSCAFile: c.TLSCAFile}
		if c.Type != "icmp" {
			e.Port = c.Port
		} else {
			e.Interval, e.Timeout = 0, 0
		}
		for _, a := range c.Addrs {
			e.Addresses = append(e.Addresses, a.String())
		}
		for _, r := range c.StatusCodes {
			e.ValidStatusCodes = append(e.ValidStatusCodes, r.String())
		}
		for _, re := range c.BodyMustMatch {
			e.MustMatch = append(e.MustMatch, re.String())
		}
		for _, re := range c.BodyMustNotMatch {
			e.MustNotMatch = append(e.MustNotMatch, re.String())
		}
		if c.Type == "https" {
			v := c.TLSVerify
			e.TLSVerify = &v
		}
		out = append(out, e)
	}
	return out
}

// strayChecks refuses checks and match in a [Cloudflare] block that has no
// record group of its own: they would check nothing.
func (c *Config) strayChecks() []error {
	cf := c.Cloudflare
	if cf.DNSDomain != "" || len(cf.Hostnames) > 0 || len(cf.IPAddresses) > 0 || (cf.Match == "" && len(cf.Checks) == 0) {
		return nil
	}
	return []error{errors.New("Cloudflare.Checks, Cloudflare.match: the [Cloudflare] block has no record group of its own (dns_domain, hostnames, ip_addresses) for them to check; put them in the [[Records]] tables")}
}
