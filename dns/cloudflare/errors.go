package cloudflare

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goavail/goavail/dns"
)

// How an API error is treated, by Cloudflare error code. The "Cloudflare
// error codes" table in docs/design.md says the same for operators; keep
// them in step.

// changeCode: the code rejects a change for what it is; the same change is
// refused on every retry until the zone or the config changes. A batch
// that fails with one is split to find the change, and the change is
// quarantined; the others are applied.
func changeCode(c int64) bool {
	switch c {
	case 81053, // an A, AAAA or CNAME record with that host already exists (CNAME conflict)
		81054, // a CNAME record with that host already exists
		9000,  // DNS record type is invalid
		9004,  // this record type cannot be proxied
		9005,  // content for an A record is invalid
		9006,  // content for an AAAA record is invalid
		9021,  // invalid TTL
		9101,  // comment too long for the plan
		9102,  // too many tags, or a tag too long, for the plan
		1004:  // DNS validation error; also a batch over the plan's size (the emulator's choice)
		return true
	}
	return false
}

// staleCode: the zone is already as the change wants it: the record exists
// (create) or is gone (delete). A lost answer to a batch that was applied
// comes back this way on the retry. The change counts as made; in a batch,
// splitting finds which one.
func staleCode(c int64) bool { return c == 81058 || c == 81057 || c == 81044 }

// authCode: a credential problem; nothing works until the operator fixes
// the token or key.
func authCode(c int64) bool {
	switch c {
	case 10000, 9106, 9109, 9103, 6003, 6111:
		return true
	}
	return false
}

// zoneCode: the zone id is wrong (the zone was deleted, moved or re-added):
// drop the cached id and look the zone up again.
func zoneCode(c int64) bool {
	switch c {
	case 7003, 7000, 1001, 1049, 1061:
		return true
	}
	return false
}

// apiAnswer is what classify needs of an SDK error: the status, the
// envelope's codes and messages, and the response headers.
type apiAnswer struct {
	status  int
	codes   []int64
	msgs    []string
	header  http.Header
	now     time.Time // the answer's Date, or the local clock
	rawBody string
}

func (a apiAnswer) has(class func(int64) bool) (int64, bool) {
	for _, c := range a.codes {
		if class(c) {
			return c, true
		}
	}
	return 0, false
}

// classifyAnswer turns an API answer into the error the Reconciler acts on.
// what names the request in words an operator understands.
func classifyAnswer(what string, a apiAnswer) error {
	parts := make([]string, 0, len(a.codes))
	for i, c := range a.codes {
		parts = append(parts, fmt.Sprintf("%d %s", c, a.msgs[i]))
	}
	detail := strings.Join(parts, "; ")
	if detail == "" {
		detail = bodyHint(a.rawBody)
	}
	msg := fmt.Errorf("%s: HTTP %d: %s", what, a.status, detail)
	first := func() (int64, string) {
		if len(a.codes) == 0 {
			return 0, ""
		}
		return a.codes[0], a.msgs[0]
	}
	switch {
	case a.status == http.StatusTooManyRequests:
		return &dns.RetryAfterError{Wait: retryAfter(a.header, a.now), Err: msg}
	case a.status >= 500 || a.status == http.StatusRequestTimeout || a.status == http.StatusConflict:
		return msg // transient
	}
	if _, ok := a.has(authCode); ok || a.status == http.StatusUnauthorized || a.status == http.StatusForbidden {
		return &dns.PermanentError{Err: fmt.Errorf("%w: check CLOUDFLARE_API_TOKEN and its permissions (Zone:Read, DNS:Edit)", msg)}
	}
	if _, ok := a.has(zoneCode); ok {
		return &dns.ZoneError{Err: fmt.Errorf("%w: the zone id is no longer valid (zone deleted, moved or re-added); looking the zone up again", msg)}
	}
	if c, ok := a.has(staleCode); ok && len(a.codes) == 1 {
		return &dns.StaleError{Code: c, Err: msg}
	}
	if c, ok := a.has(changeCode); ok {
		// 1004 is also a batch over the plan's size: splitting it goes on.
		m := a.msgs[slices.Index(a.codes, c)]
		large, limit := tooLarge(c, m)
		return &dns.RejectedError{Status: a.status, Code: c, Message: m, Content: c != 1004, TooLarge: large, Limit: limit, Err: msg}
	}
	if c, ok := a.has(staleCode); ok {
		return &dns.StaleError{Code: c, Err: msg}
	}
	if a.status >= 400 && a.status < 500 {
		// Any other 4xx with a body is about the request: treat it as the
		// change's fault, so one bad change cannot block the others.
		c, m := first()
		return &dns.RejectedError{Status: a.status, Code: c, Message: m, Err: msg}
	}
	return msg
}

// bodyHint is the first words of a body that is not Cloudflare's envelope
// (an HTML page from the edge, say), for the log.
func bodyHint(body string) string {
	body = strings.TrimSpace(body)
	if body == "" {
		return "empty answer"
	}
	if i := strings.Index(strings.ToLower(body), "<title>"); i >= 0 {
		rest := body[i+len("<title>"):]
		if j := strings.Index(strings.ToLower(rest), "</title>"); j >= 0 {
			return "not an API answer (HTML page: " + strings.TrimSpace(rest[:j]) + ")"
		}
	}
	if len(body) > 80 {
		body = body[:80] + "…"
	}
	return "not an API answer: " + strconv.Quote(body)
}

// retryAfter reads Retry-After-Ms, or Retry-After in seconds or as an HTTP
// date (relative to now, the answer's own Date when it has one). 0 when
// absent or unreadable: the Reconciler then holds its own floor, which
// grows across 429s in a row.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms > 0 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	v := h.Get("Retry-After")
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// batchLimit finds the limit in a refusal of a batch's size, e.g. "Batch
// of 3500 record changes exceeds the limit of 200 for this zone's plan."
var batchLimit = regexp.MustCompile(`(?i)limit of (\d+)`)

// tooLarge reports whether a refusal is of the batch's size (code 1004
// saying it exceeds a limit), and the limit when the message names it.
func tooLarge(code int64, msg string) (bool, int) {
	l := strings.ToLower(msg)
	if code != 1004 || !strings.Contains(l, "exceed") || !strings.Contains(l, "limit") && !strings.Contains(l, "batch") {
		return false, 0
	}
	if m := batchLimit.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n > 0 {
			return true, n
		}
	}
	return true, 0
}
