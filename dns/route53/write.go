package route53

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/goavail/goavail/dns"
)

// Route 53's limits on one change batch.
const (
	maxBatchRecords = 1000  // values, counted over every DELETE and CREATE
	maxBatchChars   = 32000 // characters of values
)

// edit is one set a write touches: as listed (nil: none) and as it
// becomes (nil: empty, so deleted).
type edit struct {
	k             setKey
	before, after *rrset
}

func (e edit) records() int { return valuesOf(e.before) + valuesOf(e.after) }

func (e edit) chars() int {
	n := 0
	for _, s := range []*rrset{e.before, e.after} {
		if s != nil {
			for _, rr := range s.ResourceRecords {
				n += len(aws.ToString(rr.Value))
			}
		}
	}
	return n
}

func valuesOf(s *rrset) int {
	if s == nil {
		return 0
	}
	return len(s.ResourceRecords)
}

// changes are the edit's DELETE (the set exactly as listed) and CREATE.
func (e edit) changes() []types.Change {
	var out []types.Change
	if e.before != nil {
		out = append(out, types.Change{Action: types.ChangeActionDelete, ResourceRecordSet: e.before})
	}
	if e.after != nil {
		out = append(out, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: e.after})
	}
	return out
}

// plan turns creates and deletes into edits of the sets they touch, from
// the sets as last listed or written; p.mu held.
func (p *Provider) planLocked(zone string, creates, deletes []dns.Record) ([]edit, error) {
	read, seen := p.zoneMapsLocked(zone)
	after := map[setKey]*rrset{}
	touch := func(k setKey) *rrset {
		if s, ok := after[k]; ok {
			return s
		}
		var s *rrset
		if r, ok := read[k]; ok {
			c := r
			c.ResourceRecords = slices.Clone(r.ResourceRecords)
			s = &c
		}
		after[k] = s
		return s
	}
	for _, d := range deletes {
		nt := nameType{strings.TrimSuffix(strings.ToLower(d.Name), "."), strings.ToUpper(d.Type)}
		if !seen[nt] {
			return nil, fmt.Errorf("change zone %s: %s %s was not listed before the write, so its set cannot be named as it is", zone, nt.name, nt.typ)
		}
		v := value(d)
		k, ok := p.holderLocked(read, d, nt, v)
		if !ok {
			continue // not in any set as listed: gone already
		}
		s := touch(k)
		s.ResourceRecords = slices.DeleteFunc(s.ResourceRecords, func(rr types.ResourceRecord) bool { return aws.ToString(rr.Value) == v })
	}
	for _, c := range creates {
		nt := nameType{strings.TrimSuffix(strings.ToLower(c.Name), "."), strings.ToUpper(c.Type)}
		if !seen[nt] {
			return nil, fmt.Errorf("change zone %s: %s %s was not listed before the write, so its set cannot be named as it is", zone, nt.name, nt.typ)
		}
		v := value(c)
		for _, k := range p.targetLocked(zone, read, after, nt, v, c.Tags) {
			if p.alias[zone][k] {
				// Route 53 would answer "already exists", which reads as a
				// moved fence: the zone listed again and the same write
				// refused again, every pass, and the zone's other changes
				// with it. Refused here instead, the core quarantines this
				// create alone.
				msg := fmt.Sprintf("%s %s is an alias set (not goavail's): %s cannot be added to it; remove the name from the config, or the alias set", nt.name, nt.typ, c.Content)
				return nil, &dns.RejectedError{Status: 400, Message: msg, Err: fmt.Errorf("change zone %s: %s", zone, msg)}
			}
			s := touch(k)
			if s == nil {
				s = p.newSet(zone, nt, k, c)
				after[k] = s
			}
			if !slices.ContainsFunc(s.ResourceRecords, func(rr types.ResourceRecord) bool { return aws.ToString(rr.Value) == v }) {
				s.ResourceRecords = append(s.ResourceRecords, types.ResourceRecord{Value: aws.String(v)})
			}
		}
	}
	var out []edit
	for k, s := range after {
		e := edit{k: k, after: s}
		if r, ok := read[k]; ok {
			e.before = &r
		}
		if s != nil && len(s.ResourceRecords) == 0 {
			e.after = nil
		}
		if e.before == nil && e.after == nil || e.before != nil && e.after != nil && sameValues(*e.before, *e.after) {
			continue
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b edit) int { return strings.Compare(recordID(a.k, ""), recordID(b.k, "")) })
	return out, nil
}

// holderLocked is the set that holds a record being deleted: the one its
// id names, else the first listed set of its name and type holding v.
func (p *Provider) holderLocked(read map[setKey]rrset, d dns.Record, nt nameType, v string) (setKey, bool) {
	// The id is matched whole against the sets listed: a set identifier
	// is free text, and may hold the "|" that joins the id's parts.
	if parts := strings.SplitN(d.ID, "|", 4); len(parts) == 4 {
		k := setKey{nameType{parts[0], parts[1]}, parts[2]}
		if _, ok := read[k]; ok && k.nameType == nt && recordID(k, v) == d.ID {
			return k, true
		}
	}
	for k := range read {
		if k.nameType == nt && recordID(k, v) == d.ID {
			return k, true
		}
	}
	var keys []setKey
	for k, s := range read {
		if k.nameType == nt && slices.ContainsFunc(s.ResourceRecords, func(rr types.ResourceRecord) bool { return aws.ToString(rr.Value) == v }) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return setKey{}, false
	}
	slices.SortFunc(keys, func(a, b setKey) int { return strings.Compare(a.id, b.id) })
	return keys[0], true
}

// targetLocked is the sets a created record goes into: every set goavail
// removed the value from (a value can be in several sets of a name), that
// is there or was emptied by goavail; else the name's set (the one whose
// identifier is the name's first label, when it has several); else a new
// one.
func (p *Provider) targetLocked(zone string, read map[setKey]rrset, after map[setKey]*rrset, nt nameType, v string, tags []string) []setKey {
	var left []setKey
	for _, k := range p.was[zone][nt.name+"|"+nt.typ+"|"+v] {
		_, there := read[k]
		_, emptied := p.gone[zone][k]
		if there || emptied {
			left = append(left, k)
		}
	}
	if len(left) > 0 {
		return left
	}
	// Else the routed set the record's tags name (the core's Memory kept
	// them from its removal, see setTags), unless the name and type now
	// hold a simple set, beside which Route 53 takes no routed one.
	if s, ok := taggedSet(tags); ok && keyOf(s).nameType == nt && !p.alias[zone][keyOf(s)] {
		k := keyOf(s)
		simple := false
		for rk := range read {
			simple = simple || rk.nameType == nt && rk.id == ""
		}
		_, there := read[k]
		if there {
			return []setKey{k}
		}
		if !simple {
			if _, emptied := p.gone[zone][k]; !emptied {
				p.gone[zone][k] = s // newSet makes it again as it was
			}
			return []setKey{k}
		}
	}
	var keys []setKey
	for k := range read {
		if k.nameType == nt {
			keys = append(keys, k)
		}
	}
	for k := range after {
		if k.nameType == nt && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b setKey) int { return strings.Compare(a.id, b.id) })
	for _, k := range keys {
		if k.id == firstLabel(nt.name) {
			return []setKey{k}
		}
	}
	if len(keys) > 0 {
		return keys[:1]
	}
	if p.weighted(zone, nt.name) {
		return []setKey{{nt, firstLabel(nt.name)}}
	}
	return []setKey{{nt, ""}}
}

func (p *Provider) weighted(zone, n string) bool {
	return n != strings.ToLower(p.FenceName(zone)) && p.o.Weighted != nil && p.o.Weighted(zone, n)
}

// newSet is a set where the name has none: the last one goavail emptied
// of that name and type (its routing fields and TTL), else weighted with
// weight 0 when Options.Weighted says so, else simple.
func (p *Provider) newSet(zone string, nt nameType, k setKey, r dns.Record) *rrset {
	if t, ok := p.gone[zone][k]; ok {
		t.ResourceRecords = nil
		return &t
	}
	ttl := int64(r.TTL)
	if ttl <= 1 {
		ttl = defaultTTL
	}
	s := &rrset{Name: aws.String(nt.name + "."), Type: types.RRType(nt.typ), TTL: aws.Int64(ttl)}
	if k.id != "" {
		s.SetIdentifier, s.Weight = aws.String(k.id), aws.Int64(0)
	}
	return s
}

// sameValues reports whether a and b hold the same values, in any order,
// and are otherwise alike.
func sameValues(a, b rrset) bool {
	va, vb := valueList(a), valueList(b)
	a.ResourceRecords, b.ResourceRecords = nil, nil
	return slices.Equal(va, vb) && fmt.Sprintf("%+v", flat(a)) == fmt.Sprintf("%+v", flat(b))
}

func valueList(s rrset) []string {
	out := make([]string, 0, len(s.ResourceRecords))
	for _, rr := range s.ResourceRecords {
		out = append(out, aws.ToString(rr.Value))
	}
	slices.Sort(out)
	return out
}

// flat is s with its pointers followed, for comparing.
func flat(s rrset) []any {
	var geo, cidr, alias any
	if s.GeoLocation != nil {
		geo = *s.GeoLocation
	}
	if s.CidrRoutingConfig != nil {
		cidr = *s.CidrRoutingConfig
	}
	if s.AliasTarget != nil {
		alias = *s.AliasTarget
	}
	return []any{aws.ToString(s.Name), s.Type, aws.ToString(s.SetIdentifier), aws.ToInt64(s.Weight), s.Weight == nil, s.Region, s.Failover,
		aws.ToBool(s.MultiValueAnswer), s.MultiValueAnswer == nil, aws.ToInt64(s.TTL), aws.ToString(s.HealthCheckId), geo, cidr, alias}
}

// pack puts edits into change batches within Route 53's limits, leaving
// room for the fence's edit (reserve records, reserveChars).
func pack(edits []edit, reserve, reserveChars int) [][]edit {
	var out [][]edit
	var cur []edit
	n, c := reserve, reserveChars
	for _, e := range edits {
		if len(cur) > 0 && (n+e.records() > maxBatchRecords || c+e.chars() > maxBatchChars) {
			out = append(out, cur)
			cur, n, c = nil, reserve, reserveChars
		}
		cur = append(cur, e)
		n, c = n+e.records(), c+e.chars()
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// write sends creates and deletes (and, when fw is set, the fence) in as
// few change batches as the limits allow, and returns the fence it left.
func (p *Provider) write(ctx context.Context, zone string, creates, deletes []dns.Record, fw *fenceWrite) (dns.ZoneFence, error) {
	var f dns.ZoneFence
	if fw != nil {
		f = fw.f
	}
	id, err := p.zoneID(ctx, zone)
	if err != nil {
		return f, err
	}
	p.mu.Lock()
	edits, err := p.planLocked(zone, creates, deletes)
	reserve, reserveChars := 0, 0
	if fw != nil {
		if fs, ok := p.read[zone][setKey{nameType{strings.ToLower(f.Name), "TXT"}, ""}]; ok {
			e := edit{before: &fs}
			reserve, reserveChars = 2*e.records()+2, 2*e.chars()+2*len(fw.stamp.Content())+len(dns.GenesisContent)+8
		} else {
			reserve, reserveChars = 2, 2*len(fw.stamp.Content())+len(dns.GenesisContent)+8
		}
	}
	p.mu.Unlock()
	if err != nil {
		return f, err
	}
	for _, e := range edits {
		if n, c := reserve+e.records(), reserveChars+e.chars(); n > maxBatchRecords || c > maxBatchChars {
			// A set this big cannot be rewritten in one change batch (its
			// DELETE and CREATE count its values twice): Route 53 would
			// refuse it whatever goavail does. Refused here, with what to
			// do, so the core quarantines this change alone and sends the
			// others.
			msg := fmt.Sprintf("the %s %s set %q has %d values: rewriting it (and the fence) takes %d records and %d characters in one change batch, over Route 53's %d and %d; split its values into several weighted sets", e.k.name, e.k.typ, e.k.id, valuesOf(e.before), n, c, maxBatchRecords, maxBatchChars)
			return f, &dns.RejectedError{Status: 400, Message: msg, Err: fmt.Errorf("change zone %s: %s", zone, msg)}
		}
	}
	batches := pack(edits, reserve, reserveChars)
	if len(batches) == 0 {
		if fw == nil {
			return f, nil
		}
		batches = [][]edit{nil} // the fence alone
	}
	for i, b := range batches {
		var fe []edit
		var stampRec dns.Record
		if fw != nil {
			st := fw.stamp
			st.At = st.At.Add(time.Duration(i))
			stampRec = dns.Record{Name: f.Name, Type: "TXT", Content: st.Content(), TTL: fenceTTL}
			fc := []dns.Record{stampRec}
			if f.Genesis.ID == "" {
				fc = append(fc, dns.Record{Name: f.Name, Type: "TXT", Content: dns.GenesisContent, TTL: fenceTTL})
			}
			p.mu.Lock()
			fe, err = p.planLocked(zone, fc, f.Stamps)
			if k := (setKey{nameType{strings.ToLower(f.Name), "TXT"}, ""}); err == nil && len(fe) == 0 {
				// The stamp is the one the set holds already (a clock that
				// did not move since the last write): the set is rewritten
				// as it is, so that the batch is still conditional on it.
				if fs, ok := p.read[zone][k]; ok {
					fe = []edit{{k: k, before: &fs, after: &fs}}
				}
			}
			p.mu.Unlock()
			if err != nil {
				return f, err
			}
		}
		all := append(slices.Clone(b), fe...)
		what := fmt.Sprintf("change zone %s (%s): %d creates, %d deletes in %d sets", zone, id, len(creates), len(deletes), len(b))
		if fw != nil {
			what += " and the fence " + f.Name
		}
		if len(batches) > 1 {
			what += fmt.Sprintf(" (batch %d of %d)", i+1, len(batches))
		}
		if err := p.send(ctx, id, what, all); err != nil {
			var moved *dns.FenceMovedError
			if !dns.Unsent(err) && !errors.As(err, &moved) {
				p.note(zone, all, false) // it may have committed
			}
			if i > 0 {
				// The batches before this one committed. The error must not
				// read as "nothing was sent" (dns.Unsent: a rate limit, a
				// refusal; or a *dns.FenceMovedError): the core would refund
				// the removal budget of every removal of the write, those
				// that landed included, and max_removals would be exceeded.
				// So its class is dropped on purpose (%v): a transient
				// error, and the zone is listed again at the next pass.
				return f, fmt.Errorf("%s: %d of %d change batches of this write committed before this one failed, so the write is partly made; the zone is listed again at the next pass: %v", what, i, len(batches), err)
			}
			return f, err
		}
		p.commit(zone, all)
		if fw != nil {
			k := setKey{nameType{strings.ToLower(f.Name), "TXT"}, ""}
			stampRec.ID = recordID(k, value(stampRec))
			if f.Genesis.ID == "" {
				f.Genesis = dns.Record{ID: recordID(k, value(dns.Record{Type: "TXT", Content: dns.GenesisContent})), Name: f.Name, Type: "TXT", Content: dns.GenesisContent, TTL: fenceTTL}
			}
			f.Stamps = []dns.Record{stampRec}
		}
	}
	return f, nil
}

// send sends one change batch and starts the wait for its INSYNC.
func (p *Provider) send(ctx context.Context, id, what string, edits []edit) error {
	var changes []types.Change
	for _, e := range edits {
		changes = append(changes, e.changes()...)
	}
	out, err := call(ctx, p, "batch", what, func(ctx context.Context) (*route53.ChangeResourceRecordSetsOutput, error) {
		return p.client.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(id),
			ChangeBatch: &types.ChangeBatch{Comment: aws.String("goavail"), Changes: changes}})
	})
	if err != nil {
		return err
	}
	if out.ChangeInfo != nil && p.o.PollInterval > 0 {
		p.pending(context.WithoutCancel(ctx), id, aws.ToString(out.ChangeInfo.Id), out.ChangeInfo.Status, time.Now())
	}
	return nil
}

// commit records the sets a batch left; an emptied set is kept aside so a
// restore brings its routing fields back.
func (p *Provider) commit(zone string, edits []edit) { p.note(zone, edits, true) }

// note records what a batch did (applied) or may have done (its answer
// was lost, timed out, or was a 5xx: Route 53 may have committed it): then
// the sets as listed stay as they are (the next listing says), but the
// sets it would empty and the sets its removals would leave are kept, so
// that a restore after a committed batch whose answer was lost still goes
// back into the set it left, with its routing fields.
func (p *Provider) note(zone string, edits []edit, applied bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	read, _ := p.zoneMapsLocked(zone)
	fence := strings.ToLower(p.FenceName(zone))
	for _, e := range edits {
		if e.k.name != fence { // the fence's stamps are never restored
			var before, after []string
			if e.before != nil {
				before = valueList(*e.before)
			}
			if e.after != nil {
				after = valueList(*e.after)
			}
			for _, v := range before {
				if w := e.k.name + "|" + e.k.typ + "|" + v; !slices.Contains(after, v) && !slices.Contains(p.was[zone][w], e.k) {
					p.was[zone][w] = append(p.was[zone][w], e.k)
				}
			}
			for _, v := range after { // back in the set it left
				if w := e.k.name + "|" + e.k.typ + "|" + v; applied && !slices.Contains(before, v) {
					if p.was[zone][w] = slices.DeleteFunc(p.was[zone][w], func(k setKey) bool { return k == e.k }); len(p.was[zone][w]) == 0 {
						delete(p.was[zone], w)
					}
				}
			}
		}
		switch {
		case e.after == nil:
			if applied {
				delete(read, e.k)
			}
			if e.before != nil {
				p.gone[zone][e.k] = *e.before
			}
		case applied:
			delete(p.gone[zone], e.k)
			read[e.k] = *e.after
		}
	}
}
