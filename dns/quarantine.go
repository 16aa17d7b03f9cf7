package dns

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// QuarantineRetry is how long a quarantined change waits before it is
// tried again, unless the records at its name or the config change first. A refused
// change costs one request per try, so this keeps a standing refusal to
// a handful of requests an hour.
const QuarantineRetry = 10 * time.Minute

// Quarantined is a change Cloudflare refuses for what it is (a CNAME on
// the name, a comment over the plan's limit, ...): it is held out of the
// batches so that it cannot sink the zone's other changes, and retried
// slowly.
type Quarantined struct {
	Zone    string    `json:"zone"`
	Action  string    `json:"action"` // ActionCreate or ActionDelete
	Record  Record    `json:"record"`
	Code    int64     `json:"code"`
	Message string    `json:"message"`
	Since   time.Time `json:"since"`
	NextTry time.Time `json:"next_try"`
	// Set is true when the change was quarantined with others, not
	// narrowed down to itself: its batch's halves were all refused with
	// one code, or the pass's split requests ran out. Its retry is split
	// to the change to blame (as far as the split budget goes).
	Set bool `json:"set,omitempty"`
	// New is set in the report of the pass that quarantined it.
	New bool `json:"new,omitempty"`
}

func (q Quarantined) key() string { return changeKey(q.Zone, q.Action, q.Record) }

func changeKey(zone, action string, r Record) string {
	return zone + "|" + action + "|" + r.Name + "|" + r.Type + "|" + strings.ToLower(r.Content)
}

// quarantine holds the refused changes of every zone. Pure; the
// Reconciler locks it.
type quarantine struct {
	held map[string]*Quarantined
	// seenAt is, per zone, the types the last pass listed and a digest of
	// the records goavail does not manage (so its own changes never alter
	// it) at each name, as that pass saw them.
	seenAt map[string]zoneSeen
}

type zoneSeen struct {
	types string
	names map[string]string // name -> digest of its unmanaged records
}

func newQuarantine() *quarantine {
	return &quarantine{held: map[string]*Quarantined{}, seenAt: map[string]zoneSeen{}}
}

// add quarantines a change (with others, not narrowed down to it, when
// set); it reports false if it already was.
func (q *quarantine) add(now time.Time, zone, action string, r Record, code int64, msg string, set bool) (Quarantined, bool) {
	k := changeKey(zone, action, r)
	if e, ok := q.held[k]; ok {
		e.Code, e.Message, e.NextTry, e.Set = code, msg, now.Add(QuarantineRetry), set
		return *e, false
	}
	e := &Quarantined{Zone: zone, Action: action, Record: r, Code: code, Message: msg, Since: now, NextTry: now.Add(QuarantineRetry), Set: set}
	q.held[k] = e
	return *e, true
}

// holds reports whether a change must stay out of this pass's batches.
func (q *quarantine) holds(now time.Time, zone, action string, r Record) bool {
	e, ok := q.held[changeKey(zone, action, r)]
	return ok && now.Before(e.NextTry)
}

// anySet reports whether one of the changes is held as part of a set
// (Set): its retry must be split to the change to blame.
func (q *quarantine) anySet(zone string, b []change) bool {
	return slices.ContainsFunc(b, func(c change) bool {
		e, ok := q.held[changeKey(zone, c.action, c.rec)]
		return ok && e.Set
	})
}

// release drops a change that was made after all (or is no longer planned).
func (q *quarantine) release(zone, action string, r Record) {
	delete(q.held, changeKey(zone, action, r))
}

// prune drops the zone's quarantined changes the plan no longer wants
// (the address went down again, the name left the config).
func (q *quarantine) prune(zone string, creates, deletes []Record) {
	want := map[string]bool{}
	for _, c := range creates {
		want[changeKey(zone, ActionCreate, c)] = true
	}
	for _, d := range deletes {
		want[changeKey(zone, ActionDelete, d)] = true
	}
	for k, e := range q.held {
		if e.Zone == zone && !want[k] {
			delete(q.held, k)
		}
	}
}

// clearZone drops every quarantined change of zone ("" for all zones).
func (q *quarantine) clearZone(zone string) int {
	n := 0
	for k, e := range q.held {
		if zone == "" || e.Zone == zone {
			delete(q.held, k)
			n++
		}
	}
	return n
}

// seen notes a zone's listing at the start of a pass and releases each
// quarantined change of the zone whose name's records that goavail does
// not manage changed since the last pass listed the same types (the
// operator removed the CNAME at that name, say). A change elsewhere in the
// zone (a DDNS client updating its own name) releases nothing. It returns
// how many changes it released.
func (q *quarantine) seen(zone string, types []string, unmanaged []Record) int {
	byName := map[string][]Record{}
	for _, r := range unmanaged {
		byName[r.Name] = append(byName[r.Name], r)
	}
	cur := zoneSeen{types: strings.Join(types, ","), names: make(map[string]string, len(byName))}
	for name, recs := range byName {
		cur.names[name] = zoneSignature(recs)
	}
	prev, had := q.seenAt[zone]
	q.seenAt[zone] = cur
	if !had || prev.types != cur.types {
		return 0
	}
	n := 0
	for k, e := range q.held {
		if e.Zone == zone && prev.names[e.Record.Name] != cur.names[e.Record.Name] {
			delete(q.held, k)
			n++
		}
	}
	return n
}

// list returns zone's quarantined changes ("" for all), oldest first.
func (q *quarantine) list(zone string) []Quarantined {
	var out []Quarantined
	for _, e := range q.held {
		if zone == "" || e.Zone == zone {
			out = append(out, *e)
		}
	}
	slices.SortFunc(out, func(a, b Quarantined) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.key(), b.key())
	})
	return out
}

// zoneSignature is a digest of the records a pass listed.
func zoneSignature(recs []Record) string {
	lines := make([]string, len(recs))
	for i, r := range recs {
		lines[i] = fmt.Sprintf("%s|%s|%s|%s|%d|%t|%s", r.ID, r.Name, r.Type, strings.ToLower(r.Content), r.TTL, r.Proxied, r.Comment)
	}
	slices.Sort(lines)
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(h[:8])
}
