package r53emu

import (
	"encoding/xml"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

type hostedZone struct {
	ID              string `xml:"Id"`
	Name            string `xml:"Name"`
	CallerReference string `xml:"CallerReference"`
	PrivateZone     bool   `xml:"Config>PrivateZone"`
	RecordCount     int    `xml:"ResourceRecordSetCount"`
}

func (s *Server) hostedZoneLocked(z *zone) hostedZone {
	return hostedZone{ID: "/hostedzone/" + z.id, Name: z.name, CallerReference: "r53emu-" + z.id, PrivateZone: z.private, RecordCount: len(z.sets)}
}

// zoneOrder orders zones as ListHostedZonesByName does: by name with its
// labels reversed, then id.
func zoneOrder(a, b *zone) int {
	if c := less(Key{Name: a.name}, Key{Name: b.name}); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// listZonesByName serves GET /2013-04-01/hostedzonesbyname?dnsname=&hostedzoneid=&maxitems=.
func (s *Server) listZonesByName(rp *reply) {
	q := rp.r.URL.Query()
	max := 100
	if m, err := strconv.Atoi(q.Get("maxitems")); err == nil && m > 0 && m < max {
		max = m
	}
	type resp struct {
		XMLName          xml.Name     `xml:"ListHostedZonesByNameResponse"`
		Xmlns            string       `xml:"xmlns,attr"`
		HostedZones      []hostedZone `xml:"HostedZones>HostedZone"`
		DNSName          string       `xml:"DNSName,omitempty"`
		IsTruncated      bool         `xml:"IsTruncated"`
		MaxItems         int          `xml:"MaxItems"`
		NextDNSName      string       `xml:"NextDNSName,omitempty"`
		NextHostedZoneID string       `xml:"NextHostedZoneId,omitempty"`
	}
	out := resp{Xmlns: xmlns, MaxItems: max}
	s.mu.Lock()
	zs := make([]*zone, 0, len(s.zones))
	for _, z := range s.zones {
		zs = append(zs, z)
	}
	slices.SortFunc(zs, zoneOrder)
	start := &zone{}
	if n := q.Get("dnsname"); n != "" {
		out.DNSName = n
		start.name = CanonicalName(n)
		start.id = strings.TrimPrefix(q.Get("hostedzoneid"), "/hostedzone/")
	}
	for _, z := range zs {
		if start.name != "" && zoneOrder(z, start) < 0 {
			continue
		}
		if len(out.HostedZones) == max {
			out.IsTruncated, out.NextDNSName, out.NextHostedZoneID = true, z.name, z.id
			break
		}
		out.HostedZones = append(out.HostedZones, s.hostedZoneLocked(z))
	}
	s.mu.Unlock()
	s.answer(rp, out)
}

// getZone serves GET /2013-04-01/hostedzone/{Id}: the zone and its
// delegation set, which names the emulator's DNS server (host:port).
func (s *Server) getZone(rp *reply, z *zone) {
	type resp struct {
		XMLName     xml.Name   `xml:"GetHostedZoneResponse"`
		Xmlns       string     `xml:"xmlns,attr"`
		HostedZone  hostedZone `xml:"HostedZone"`
		NameServers []string   `xml:"DelegationSet>NameServers>NameServer"`
	}
	s.mu.Lock()
	out := resp{Xmlns: xmlns, HostedZone: s.hostedZoneLocked(z), NameServers: s.nameServersLocked()}
	s.mu.Unlock()
	s.answer(rp, out)
}

// changeInfo is a change's state.
type changeInfo struct {
	ID          string `xml:"Id"`
	Status      string `xml:"Status"`
	SubmittedAt string `xml:"SubmittedAt"`
	Comment     string `xml:"Comment,omitempty"`
}

func (s *Server) changeInfoLocked(id string, now time.Time) changeInfo {
	at := s.changes[id]
	status := "PENDING"
	if !now.Before(at.Add(s.delay)) {
		status = "INSYNC"
	}
	return changeInfo{ID: "/change/" + id, Status: status, SubmittedAt: at.UTC().Format(time.RFC3339)}
}

// getChange serves GET /2013-04-01/change/{Id}.
func (s *Server) getChange(rp *reply, id string) {
	type resp struct {
		XMLName    xml.Name   `xml:"GetChangeResponse"`
		Xmlns      string     `xml:"xmlns,attr"`
		ChangeInfo changeInfo `xml:"ChangeInfo"`
	}
	s.mu.Lock()
	_, ok := s.changes[id]
	var out resp
	if ok {
		out = resp{Xmlns: xmlns, ChangeInfo: s.changeInfoLocked(id, time.Now())}
	}
	s.mu.Unlock()
	if !ok {
		s.fail(rp, http.StatusNotFound, "NoSuchChange", "A change with the specified change ID does not exist: "+id)
		return
	}
	s.answer(rp, out)
}

// listSets serves GET /2013-04-01/hostedzone/{Id}/rrset?name=&type=&identifier=&maxitems=.
func (s *Server) listSets(rp *reply, z *zone) {
	q := rp.r.URL.Query()
	name, typ, ident := q.Get("name"), strings.ToUpper(q.Get("type")), q.Get("identifier")
	if typ != "" && name == "" {
		s.fail(rp, http.StatusBadRequest, "InvalidInput", "The input is not valid: type requires name")
		return
	}
	if ident != "" && typ == "" {
		s.fail(rp, http.StatusBadRequest, "InvalidInput", "The input is not valid: identifier requires name and type")
		return
	}
	type resp struct {
		XMLName              xml.Name `xml:"ListResourceRecordSetsResponse"`
		Xmlns                string   `xml:"xmlns,attr"`
		Sets                 []RRSet  `xml:"ResourceRecordSets>ResourceRecordSet"`
		IsTruncated          bool     `xml:"IsTruncated"`
		NextRecordName       string   `xml:"NextRecordName,omitempty"`
		NextRecordType       string   `xml:"NextRecordType,omitempty"`
		NextRecordIdentifier string   `xml:"NextRecordIdentifier,omitempty"`
		MaxItems             int      `xml:"MaxItems"`
	}
	s.mu.Lock()
	max := s.maxItems
	if m, err := strconv.Atoi(q.Get("maxitems")); err == nil && m > 0 && m < max {
		max = m
	}
	out := resp{Xmlns: xmlns, MaxItems: max, Sets: []RRSet{}}
	var start Key
	if name != "" {
		start = Key{CanonicalName(name), typ, ident}
	}
	for _, set := range z.sorted() {
		if name != "" && less(set.Key(), start) < 0 {
			continue
		}
		if len(out.Sets) == max {
			out.IsTruncated, out.NextRecordName, out.NextRecordType, out.NextRecordIdentifier = true, set.Name, set.Type, set.SetIdentifier
			break
		}
		out.Sets = append(out.Sets, set)
	}
	rp.jr.listVersion, rp.jr.listed = z.version, slices.Clone(out.Sets)
	s.mu.Unlock()
	s.answer(rp, out)
}

// changeSets serves POST /2013-04-01/hostedzone/{Id}/rrset/: one atomic
// change batch.
func (s *Server) changeSets(rp *reply, z *zone) {
	var req struct {
		XMLName xml.Name `xml:"ChangeResourceRecordSetsRequest"`
		Comment string   `xml:"ChangeBatch>Comment"`
		Changes []Change `xml:"ChangeBatch>Changes>Change"`
	}
	if err := xml.Unmarshal(rp.body, &req); err != nil {
		s.fail(rp, http.StatusBadRequest, "MalformedInput", "The XML document is not well-formed: "+err.Error())
		return
	}
	if len(req.Changes) == 0 {
		s.fail(rp, http.StatusBadRequest, "InvalidInput", "The input is not valid: a change batch needs at least one change")
		return
	}
	s.mu.Lock()
	now := time.Now()
	deleted, created, msgs := z.apply(req.Changes, now)
	if len(msgs) > 0 {
		s.mu.Unlock()
		s.refuseBatch(rp, msgs)
		return
	}
	id := "C" + newID(20)
	s.changes[id] = now
	s.committedLocked(rp, z, deleted, created, now)
	info := s.changeInfoLocked(id, now)
	info.Comment, info.Status = req.Comment, "PENDING" // as Route 53 answers every change
	s.mu.Unlock()
	type resp struct {
		XMLName    xml.Name   `xml:"ChangeResourceRecordSetsResponse"`
		Xmlns      string     `xml:"xmlns,attr"`
		ChangeInfo changeInfo `xml:"ChangeInfo"`
	}
	s.answer(rp, resp{Xmlns: xmlns, ChangeInfo: info})
}
