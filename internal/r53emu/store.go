package r53emu

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"time"
)

// RRSet is one resource record set as Route 53 holds it, with every field
// of the API's ResourceRecordSet that goavail may meet; the routing fields
// are kept as given.
type RRSet struct {
	XMLName           xml.Name           `xml:"ResourceRecordSet"`
	Name              string             `xml:"Name"`
	Type              string             `xml:"Type"`
	SetIdentifier     string             `xml:"SetIdentifier,omitempty"`
	Weight            *int64             `xml:"Weight,omitempty"`
	Region            string             `xml:"Region,omitempty"`
	GeoLocation       *GeoLocation       `xml:"GeoLocation,omitempty"`
	Failover          string             `xml:"Failover,omitempty"`
	MultiValueAnswer  *bool              `xml:"MultiValueAnswer,omitempty"`
	TTL               *int64             `xml:"TTL,omitempty"`
	Values            []string           `xml:"-"`
	AliasTarget       *AliasTarget       `xml:"AliasTarget,omitempty"`
	HealthCheckID     string             `xml:"HealthCheckId,omitempty"`
	CidrRoutingConfig *CidrRoutingConfig `xml:"CidrRoutingConfig,omitempty"`
	// GeoProximityLocation is kept as its XML, verbatim.
	GeoProximityLocation *InnerXML `xml:"GeoProximityLocation,omitempty"`
	// TrafficPolicyInstanceID names the traffic policy that made the set.
	TrafficPolicyInstanceID string `xml:"TrafficPolicyInstanceId,omitempty"`
}

// InnerXML is an element kept as it came.
type InnerXML struct {
	Inner string `xml:",innerxml"`
}

// rrValue is one ResourceRecord element.
type rrValue struct {
	Value string `xml:"Value"`
}

// MarshalXML writes the set as Route 53's ResourceRecordSet element.
func (r RRSet) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	type Plain RRSet
	w := struct {
		Plain
		Records []rrValue `xml:"ResourceRecords>ResourceRecord"`
	}{Plain: Plain(r)}
	for _, v := range r.Values {
		w.Records = append(w.Records, rrValue{v})
	}
	return e.EncodeElement(w, start)
}

// UnmarshalXML reads a ResourceRecordSet element.
func (r *RRSet) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type Plain RRSet
	var w struct {
		Plain
		Records []rrValue `xml:"ResourceRecords>ResourceRecord"`
	}
	if err := d.DecodeElement(&w, &start); err != nil {
		return err
	}
	*r = RRSet(w.Plain)
	for _, v := range w.Records {
		r.Values = append(r.Values, v.Value)
	}
	return nil
}

// GeoLocation is a geolocation set's location.
type GeoLocation struct {
	ContinentCode   string `xml:"ContinentCode,omitempty"`
	CountryCode     string `xml:"CountryCode,omitempty"`
	SubdivisionCode string `xml:"SubdivisionCode,omitempty"`
}

// AliasTarget is an alias set's target.
type AliasTarget struct {
	HostedZoneID         string `xml:"HostedZoneId"`
	DNSName              string `xml:"DNSName"`
	EvaluateTargetHealth bool   `xml:"EvaluateTargetHealth"`
}

// CidrRoutingConfig is an IP-based routing set's location.
type CidrRoutingConfig struct {
	CollectionID string `xml:"CollectionId"`
	LocationName string `xml:"LocationName"`
}

// Key names a set: name (Route 53 form), type and set identifier.
type Key struct{ Name, Type, SetIdentifier string }

// Key is the set's key, its name in Route 53's form.
func (r RRSet) Key() Key { return Key{CanonicalName(r.Name), strings.ToUpper(r.Type), r.SetIdentifier} }

// String names the set as AWS's error messages do.
func (k Key) String() string {
	if k.SetIdentifier != "" {
		return fmt.Sprintf("[name='%s', type='%s', set-identifier='%s']", k.Name, k.Type, k.SetIdentifier)
	}
	return fmt.Sprintf("[name='%s', type='%s']", k.Name, k.Type)
}

// CanonicalName is name as Route 53 stores and lists it: lower case, a
// trailing dot, and "\052" for the wildcard label.
func CanonicalName(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	if strings.HasPrefix(name, "*.") || name == "*." {
		name = `\052` + name[1:]
	}
	return name
}

// canonical is the set with its name in Route 53's form and its values in
// order, for comparing a DELETE with what is held.
func (r RRSet) canonical() string {
	r.XMLName = xml.Name{}
	r.Name = CanonicalName(r.Name)
	r.Type = strings.ToUpper(r.Type)
	r.Values = slices.Clone(r.Values)
	slices.Sort(r.Values)
	if r.AliasTarget != nil {
		a := *r.AliasTarget
		a.DNSName = strings.ToLower(strings.TrimSuffix(a.DNSName, ".")) + "."
		r.AliasTarget = &a
	}
	b, _ := xml.Marshal(r)
	return string(b)
}

// sortKey orders sets as ListResourceRecordSets lists them (its API
// reference, "Sort order"): by DNS name with its labels reversed and the
// trailing dot kept (com.example.www.), in ASCII order, the wildcard as
// "*"; then by type, then set identifier.
func sortKey(k Key) string {
	labels := strings.Split(strings.TrimSuffix(strings.ReplaceAll(k.Name, `\052`, "*"), "."), ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".") + ".\x00" + k.Type + "\x00" + k.SetIdentifier
}

func less(a, b Key) int { return strings.Compare(sortKey(a), sortKey(b)) }

// zone is a hosted zone.
type zone struct {
	id, name string // name in Route 53 form (trailing dot)
	sets     map[Key]*held
	gone     []tomb // deleted sets, served by DNS until their delete propagates
	// version counts the change batches committed (and hand edits).
	version uint64
	private bool // a private hosted zone (AddPrivateZone)
}

// held is a set and when its latest change was made.
type held struct {
	set     RRSet
	changed time.Time
}

type tomb struct {
	set              RRSet
	changed, deleted time.Time
}

// sorted returns the zone's sets in Route 53's order.
func (z *zone) sorted() []RRSet {
	out := make([]RRSet, 0, len(z.sets))
	for _, h := range z.sets {
		out = append(out, h.set)
	}
	slices.SortFunc(out, func(a, b RRSet) int { return less(a.Key(), b.Key()) })
	return out
}

// Change is one change of a batch.
type Change struct {
	Action string `xml:"Action"`
	Set    RRSet  `xml:"ResourceRecordSet"`
}

// Batch limits, as Route 53 documents them for one request.
const (
	MaxBatchRecords = 1000
	MaxBatchChars   = 32000
)

// apply checks a batch against z and, if every change holds, commits it
// whole; else it changes nothing and returns AWS's messages.
func (z *zone) apply(changes []Change, now time.Time) (deleted, created []RRSet, msgs []string) {
	records, chars := 0, 0
	for _, c := range changes {
		n := max(len(c.Set.Values), 1)
		if c.Action == "UPSERT" {
			n *= 2
		}
		records += n
		for _, v := range c.Set.Values {
			chars += len(v)
		}
	}
	if records > MaxBatchRecords {
		return nil, nil, []string{fmt.Sprintf("Number of records in the change batch exceeds the maximum allowed: %d > %d", records, MaxBatchRecords)}
	}
	if chars > MaxBatchChars {
		return nil, nil, []string{fmt.Sprintf("Number of characters in the values of the change batch exceeds the maximum allowed: %d > %d", chars, MaxBatchChars)}
	}
	// Work on a view of the sets: each change sees the ones before it.
	view := map[Key]*RRSet{}
	get := func(k Key) *RRSet {
		if s, ok := view[k]; ok {
			return s
		}
		if h := z.sets[k]; h != nil {
			s := h.set
			return &s
		}
		return nil
	}
	for _, c := range changes {
		s := c.Set
		s.Name = CanonicalName(s.Name)
		s.Type = strings.ToUpper(s.Type)
		k := s.Key()
		if m := validate(s, z.name); m != "" {
			msgs = append(msgs, m)
			continue
		}
		cur := get(k)
		switch c.Action {
		case "CREATE":
			if cur != nil {
				msgs = append(msgs, fmt.Sprintf("Tried to create resource record set %s but it already exists", k))
				continue
			}
			view[k] = &s
		case "DELETE":
			switch {
			case cur == nil:
				msgs = append(msgs, fmt.Sprintf("Tried to delete resource record set %s but it was not found", k))
				continue
			case cur.canonical() != s.canonical():
				msgs = append(msgs, fmt.Sprintf("Tried to delete resource record set %s but the values provided do not match the current values", k))
				continue
			}
			view[k] = nil
		case "UPSERT":
			view[k] = &s
		default:
			msgs = append(msgs, fmt.Sprintf("Invalid action %q: must be CREATE, DELETE or UPSERT", c.Action))
		}
	}
	msgs = append(msgs, z.conflicts(view)...)
	if len(msgs) > 0 {
		return nil, nil, msgs
	}
	keys := make([]Key, 0, len(view))
	for k := range view {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, less)
	for _, k := range keys {
		if h := z.sets[k]; h != nil {
			deleted = append(deleted, h.set)
			z.gone = append(z.gone, tomb{set: h.set, changed: h.changed, deleted: now})
			delete(z.sets, k)
		}
		if s := view[k]; s != nil {
			z.sets[k] = &held{set: *s, changed: now}
			created = append(created, *s)
		}
	}
	z.version++
	return deleted, created, nil
}

// conflicts are the names and types a batch would leave with a simple set
// beside another set: Route 53 holds either one simple set or only sets
// with identifiers.
func (z *zone) conflicts(view map[Key]*RRSet) []string {
	var msgs []string
	done := map[Key]bool{}
	for k := range view {
		nt := Key{Name: k.Name, Type: k.Type}
		if done[nt] {
			continue
		}
		done[nt] = true
		n, simple := 0, false
		count := func(k Key) {
			n++
			simple = simple || k.SetIdentifier == ""
		}
		for hk := range z.sets {
			if _, changed := view[hk]; !changed && hk.Name == k.Name && hk.Type == k.Type {
				count(hk)
			}
		}
		for vk, s := range view {
			if s != nil && vk.Name == k.Name && vk.Type == k.Type {
				count(vk)
			}
		}
		if n > 1 && simple {
			msgs = append(msgs, fmt.Sprintf("RRSet of type %s with DNS name %s is not permitted because a conflicting RRSet of type %s with the same DNS name already exists in zone %s.", k.Type, k.Name, k.Type, z.name))
		}
	}
	return msgs
}

// validate checks what Route 53 checks of a set on its own; "" if fine.
func validate(s RRSet, zone string) string {
	k := s.Key()
	switch {
	case s.Name != zone && !strings.HasSuffix(s.Name, "."+zone):
		return fmt.Sprintf("RRSet with DNS name %s is not permitted in zone %s", s.Name, zone)
	case s.AliasTarget == nil && len(s.Values) == 0:
		return fmt.Sprintf("Invalid Resource Record set %s: a set must hold at least one record", k)
	case s.AliasTarget == nil && s.TTL == nil:
		return fmt.Sprintf("Invalid Resource Record set %s: TTL is required", k)
	case (s.Weight != nil || s.Failover != "" || s.Region != "" || s.GeoLocation != nil || s.MultiValueAnswer != nil || s.CidrRoutingConfig != nil || s.GeoProximityLocation != nil) && s.SetIdentifier == "":
		return fmt.Sprintf("Invalid request: Missing field 'SetIdentifier' in Change with [Action=..., Name=%s, Type=%s, SetIdentifier=null]", s.Name, s.Type)
	case s.SetIdentifier != "" && s.Weight == nil && s.Failover == "" && s.Region == "" && s.GeoLocation == nil && s.MultiValueAnswer == nil && s.CidrRoutingConfig == nil && s.GeoProximityLocation == nil:
		return fmt.Sprintf("Invalid request: a set with SetIdentifier %s must name a routing policy", s.SetIdentifier)
	}
	seen := map[string]bool{}
	for _, v := range s.Values {
		if seen[v] {
			return fmt.Sprintf("Duplicate Resource Record: '%s'", v)
		}
		seen[v] = true
	}
	return ""
}
