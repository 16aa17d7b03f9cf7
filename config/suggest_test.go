package config

import (
	"strings"
	"testing"
)

// TestUnknownKey_DidYouMean: a misspelt key names the closest known key
// (the same block first, or the very name in another block); a key close
// to nothing gets the plain message.
func TestUnknownKey_DidYouMean(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"intervall = \"1s\"\n", "intervall: unknown key; did you mean interval?"},
		{"[Members]\npeer = [\"a\"]\n", "Members.peer: unknown key; did you mean peers?"},
		{"[Members]\nfailure_threshold = 3\n", "Members.failure_threshold: unknown key; did you mean failure_threshold (at the top level)?"},
		{"[[Records]]\ndns_domian = \"example.com\"\n", "Records.dns_domian: unknown key; did you mean dns_domain?"},
		{"[[Records]]\n[[Records.Checks]]\ntpye = \"tcp\"\n", "Records.Checks.tpye: unknown key; did you mean type?"},
		{"http_listen = \"\"\nreconcile_period = \"1m\"\nmembers_port = 7946\n", "members_port: unknown key; did you mean members_port in [Members]?"},
		{"zzzzzz = 1\n", "zzzzzz: unknown key (check its spelling and the block it is in)"},
	} {
		_, err := Parse(tc.text + oneGroup + "batchsize = 3\n")
		if !strings.Contains(err.Error(), "Cloudflare.batchsize: unknown key; did you mean batch_size?") {
			t.Errorf("batchsize in [Cloudflare]: %v", err)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v\nwant %s", tc.text, err, tc.want)
		}
	}
}
