package rfc2136

import (
	"errors"
	"fmt"

	mdns "github.com/miekg/dns"

	"github.com/goavail/goavail/dns"
)

// classify maps an exchange's outcome into the core's error classes:
//   - a refused prerequisite (NXRRSET, YXRRSET, NXDOMAIN, YXDOMAIN): the
//     zone is not as this pass read it, *dns.FenceMovedError (list again);
//   - REFUSED, NOTAUTH, NOTZONE or a TSIG error: *dns.PermanentError naming
//     the key (wrong key or secret, no update-policy grant, wrong zone);
//   - FORMERR, NOTIMP: *dns.RejectedError (the message itself is refused);
//   - SERVFAIL, timeouts, connection errors: transient, returned as they are.
func classify(what, key string, r *mdns.Msg, err error) error {
	if r == nil {
		if err == nil {
			return nil
		}
		if errors.Is(err, mdns.ErrSecret) || errors.Is(err, mdns.ErrKeyAlg) || errors.Is(err, mdns.ErrKey) {
			return &dns.PermanentError{Err: fmt.Errorf("%s: TSIG key %s: %w", what, key, err)}
		}
		return fmt.Errorf("%s: %w (no answer; will retry)", what, err)
	}
	rc := mdns.RcodeToString[r.Rcode]
	tsig := ""
	if t := r.IsTsig(); t != nil && t.Error != mdns.RcodeSuccess {
		tsig = mdns.RcodeToString[int(t.Error)]
		if tsig == "" {
			tsig = fmt.Sprint(t.Error)
		}
	}
	switch r.Rcode {
	case mdns.RcodeSuccess:
		if err != nil { // the answer's signature did not verify
			return &dns.PermanentError{Err: fmt.Errorf("%s: the server's answer is not signed with TSIG key %s as expected: %w", what, key, err)}
		}
		return nil
	case mdns.RcodeNXRrset, mdns.RcodeYXRrset, mdns.RcodeNameError, mdns.RcodeYXDomain:
		return &dns.FenceMovedError{Err: fmt.Errorf("%s: prerequisite refused (%s)", what, rc)}
	case mdns.RcodeNotAuth, mdns.RcodeRefused, mdns.RcodeNotZone:
		if tsig == "BADTIME" {
			return &dns.PermanentError{Err: fmt.Errorf("%s: the server refused TSIG key %s (%s, TSIG BADTIME): this host's clock and the server's differ by more than the signature's 300 s fudge; synchronise them (NTP)", what, key, rc)}
		}
		if tsig != "" {
			return &dns.PermanentError{Err: fmt.Errorf("%s: the server refused TSIG key %s (%s, TSIG %s): check tsig_key_name, tsig_algorithm and the secret against the server's key statement", what, key, rc, tsig)}
		}
		return &dns.PermanentError{Err: fmt.Errorf("%s: the server refused the request signed with TSIG key %s (%s): check that the server is the zone's primary and grants the key updates (BIND: update-policy { grant %s zonesub ANY; };)", what, key, rc, key)}
	case mdns.RcodeFormatError, mdns.RcodeNotImplemented:
		return &dns.RejectedError{Code: int64(r.Rcode), Message: rc, Err: fmt.Errorf("%s: the server rejected the message (%s)", what, rc)}
	}
	return fmt.Errorf("%s: the server answered %s; will retry", what, rc)
}
