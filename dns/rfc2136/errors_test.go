package rfc2136

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/goavail/goavail/dns"
)

// TestClassify maps each answer into the core's classes.
func TestClassify(t *testing.T) {
	answer := func(rcode int, tsigErr uint16) *mdns.Msg {
		m := new(mdns.Msg)
		m.SetUpdate("example.com.")
		m.Rcode = rcode
		if tsigErr != 0 {
			m.Extra = append(m.Extra, &mdns.TSIG{Hdr: mdns.RR_Header{Name: "goavail.", Rrtype: mdns.TypeTSIG, Class: mdns.ClassANY}, Algorithm: mdns.HmacSHA256, Error: tsigErr})
		}
		return m
	}
	type class int
	const (
		moved class = iota
		permanent
		rejected
		transient
		ok
	)
	for _, tc := range []struct {
		name  string
		r     *mdns.Msg
		err   error
		want  class
		words []string
	}{
		{"NXRRSET", answer(mdns.RcodeNXRrset, 0), nil, moved, []string{"prerequisite refused (NXRRSET)"}},
		{"YXRRSET", answer(mdns.RcodeYXRrset, 0), nil, moved, []string{"YXRRSET"}},
		{"NXDOMAIN", answer(mdns.RcodeNameError, 0), nil, moved, []string{"NXDOMAIN"}},
		{"YXDOMAIN", answer(mdns.RcodeYXDomain, 0), nil, moved, []string{"YXDOMAIN"}},
		{"BADKEY", answer(mdns.RcodeNotAuth, mdns.RcodeBadKey), mdns.ErrSig, permanent, []string{"TSIG key goavail.", "NOTAUTH", "BADKEY", "tsig_key_name"}},
		{"BADSIG", answer(mdns.RcodeNotAuth, mdns.RcodeBadSig), nil, permanent, []string{"TSIG key goavail.", "BADSIG"}},
		{"BADTIME: clocks apart", answer(mdns.RcodeNotAuth, mdns.RcodeBadTime), nil, permanent, []string{"TSIG key goavail.", "BADTIME", "clock"}},
		{"REFUSED: no grant", answer(mdns.RcodeRefused, 0), nil, permanent, []string{"TSIG key goavail.", "REFUSED", "update-policy { grant goavail. zonesub ANY; }"}},
		{"NOTAUTH: not the primary", answer(mdns.RcodeNotAuth, 0), nil, permanent, []string{"primary"}},
		{"NOTZONE", answer(mdns.RcodeNotZone, 0), nil, permanent, []string{"NOTZONE"}},
		{"FORMERR", answer(mdns.RcodeFormatError, 0), nil, rejected, []string{"FORMERR"}},
		{"SERVFAIL", answer(mdns.RcodeServerFailure, 0), nil, transient, []string{"SERVFAIL", "will retry"}},
		{"timeout", nil, os.ErrDeadlineExceeded, transient, []string{"no answer"}},
		{"unsigned answer", answer(mdns.RcodeSuccess, 0), mdns.ErrSig, permanent, []string{"not signed with TSIG key goavail."}},
		{"NOERROR", answer(mdns.RcodeSuccess, 0), nil, ok, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := classify("update 1 creates, 0 deletes in zone example.com on 192.0.2.53:53", "goavail.", tc.r, tc.err)
			var fm *dns.FenceMovedError
			var perm *dns.PermanentError
			var rej *dns.RejectedError
			got := transient
			switch {
			case err == nil:
				got = ok
			case errors.As(err, &fm):
				got = moved
			case errors.As(err, &perm):
				got = permanent
			case errors.As(err, &rej):
				got = rejected
			}
			if got != tc.want {
				t.Fatalf("%v: class %d, want %d", err, got, tc.want)
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
}

// TestProvider_TooLargeIsSplit: an UPDATE that would not fit in a DNS
// message is refused before it is sent, as a RejectedError the core
// splits.
func TestProvider_TooLargeIsSplit(t *testing.T) {
	p, err := New(Options{Server: "127.0.0.1:9", KeyName: "goavail.", Secret: "c2VjcmV0", Names: func(string) []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	var big []dns.Record
	p.read["example.com"] = map[setKey][]mdns.RR{}
	for i := range 5000 {
		name := "h" + strings.Repeat("x", 40) + string(rune('a'+i%26)) + "-" + strconv.Itoa(i) + ".example.com"
		p.read["example.com"][setKey{name + ".", mdns.TypeA}] = []mdns.RR{}
		big = append(big, dns.Record{Name: name, Type: "A", Content: "192.0.2.1", TTL: 60})
	}
	err = p.Apply(context.Background(), "example.com", big, nil)
	var rej *dns.RejectedError
	if !errors.As(err, &rej) || !strings.Contains(err.Error(), "over DNS's 65535") {
		t.Fatalf("err = %v, want a RejectedError for the size", err)
	}
}
