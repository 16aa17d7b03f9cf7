package r53emu

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"html"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// do sends a request signed with SigV4 by the key (akid, secret) and
// returns the status and body.
func do(t *testing.T, s *Server, akid, secret, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, req, hex.EncodeToString(sum[:]), "route53", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// The API reference's ChangeResourceRecordSets example: a weighted set
// created, in the XML the reference shows.
const docCreateWeighted = `<?xml version="1.0" encoding="UTF-8"?>
<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
   <ChangeBatch>
      <Comment>Add two weighted sets</Comment>
      <Changes>
         <Change>
            <Action>CREATE</Action>
            <ResourceRecordSet>
               <Name>www.example.com</Name>
               <Type>A</Type>
               <SetIdentifier>Seattle data center</SetIdentifier>
               <Weight>50</Weight>
               <TTL>600</TTL>
               <ResourceRecords>
                  <ResourceRecord><Value>192.0.2.9</Value></ResourceRecord>
                  <ResourceRecord><Value>192.0.2.10</Value></ResourceRecord>
               </ResourceRecords>
               <HealthCheckId>abcdef11-2222-3333-4444-555555fedcba</HealthCheckId>
            </ResourceRecordSet>
         </Change>
         <Change>
            <Action>CREATE</Action>
            <ResourceRecordSet>
               <Name>*.example.com</Name>
               <Type>A</Type>
               <TTL>600</TTL>
               <ResourceRecords><ResourceRecord><Value>192.0.2.11</Value></ResourceRecord></ResourceRecords>
            </ResourceRecordSet>
         </Change>
      </Changes>
   </ChangeBatch>
</ChangeResourceRecordSetsRequest>`

func change(action, set string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes>` +
		`<Change><Action>` + action + `</Action>` + set + `</Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`
}

const seattle = `<ResourceRecordSet><Name>www.example.com.</Name><Type>A</Type><SetIdentifier>Seattle data center</SetIdentifier><Weight>50</Weight><TTL>600</TTL>` +
	`<ResourceRecords><ResourceRecord><Value>192.0.2.10</Value></ResourceRecord><ResourceRecord><Value>192.0.2.9</Value></ResourceRecord></ResourceRecords>` +
	`<HealthCheckId>abcdef11-2222-3333-4444-555555fedcba</HealthCheckId></ResourceRecordSet>`

// TestDocExamples: the reference's request shapes are accepted and
// answered in its response shapes: ChangeInfo PENDING then INSYNC after
// the propagation delay; the listing in Route 53's order with "\052";
// DELETE only of the set exactly as it is; CREATE of an existing set
// refused; refusals with AWS's messages; a batch all or nothing.
func TestDocExamples(t *testing.T) {
	s := New()
	defer s.Close()
	id := s.AddZone("example.com")
	s.SetPropagationDelay(time.Hour)
	s.Seed("example.com", RRSet{Name: "example.com", Type: "NS", TTL: aws.Int64(172800), Values: []string{"ns-1.awsdns-01.org."}})
	key, secret := s.AccessKeyID, s.SecretAccessKey
	rrset := "/2013-04-01/hostedzone/" + id + "/rrset/"

	code, body := do(t, s, key, secret, "POST", rrset, docCreateWeighted)
	if code != 200 || !strings.Contains(body, "<ChangeResourceRecordSetsResponse") || !strings.Contains(body, "<Status>PENDING</Status>") || !strings.Contains(body, "<Id>/change/C") {
		t.Fatalf("create: %d %s", code, body)
	}
	var ci struct {
		ID string `xml:"ChangeInfo>Id"`
	}
	if err := xml.Unmarshal([]byte(body), &ci); err != nil {
		t.Fatal(err)
	}
	if code, body := do(t, s, key, secret, "GET", "/2013-04-01"+ci.ID, ""); code != 200 || !strings.Contains(body, "<Status>PENDING</Status>") {
		t.Fatalf("GetChange within the delay: %d %s", code, body)
	}
	s.SetPropagationDelay(0)
	if code, body := do(t, s, key, secret, "GET", "/2013-04-01"+ci.ID, ""); code != 200 || !strings.Contains(body, "<Status>INSYNC</Status>") {
		t.Fatalf("GetChange after the delay: %d %s", code, body)
	}

	code, body = do(t, s, key, secret, "GET", "/2013-04-01/hostedzone/"+id+"/rrset", "")
	var list struct {
		Sets        []RRSet `xml:"ResourceRecordSets>ResourceRecordSet"`
		IsTruncated bool    `xml:"IsTruncated"`
	}
	if err := xml.Unmarshal([]byte(body), &list); err != nil || code != 200 {
		t.Fatalf("list: %d %v %s", code, err, body)
	}
	var names []string
	for _, r := range list.Sets {
		names = append(names, r.Name+" "+r.Type)
	}
	// com.example. < com.example.*. < com.example.www.
	if want := []string{"example.com. NS", `\052.example.com. A`, "www.example.com. A"}; !slices.Equal(names, want) || list.IsTruncated {
		t.Fatalf("listing order %q, want %q", names, want)
	}

	for _, tc := range []struct{ name, req, msg string }{
		{"delete with a value missing", change("DELETE", strings.Replace(seattle, `<ResourceRecord><Value>192.0.2.9</Value></ResourceRecord>`, "", 1)),
			"Tried to delete resource record set [name='www.example.com.', type='A', set-identifier='Seattle data center'] but the values provided do not match the current values"},
		{"delete with another TTL", change("DELETE", strings.Replace(seattle, "<TTL>600</TTL>", "<TTL>60</TTL>", 1)), "do not match the current values"},
		{"delete with another weight", change("DELETE", strings.Replace(seattle, "<Weight>50</Weight>", "<Weight>0</Weight>", 1)), "do not match the current values"},
		{"delete of no set", change("DELETE", strings.Replace(seattle, "www.", "w2.", 1)), "Tried to delete resource record set [name='w2.example.com.', type='A', set-identifier='Seattle data center'] but it was not found"},
		{"create of an existing set", change("CREATE", seattle), "Tried to create resource record set [name='www.example.com.', type='A', set-identifier='Seattle data center'] but it already exists"},
		{"a simple set beside a weighted one", change("CREATE", `<ResourceRecordSet><Name>www.example.com.</Name><Type>A</Type><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>192.0.2.1</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>`), "conflicting RRSet"},
	} {
		v := s.Version("example.com")
		code, body := do(t, s, key, secret, "POST", rrset, tc.req)
		if code != 400 || !strings.Contains(body, "<InvalidChangeBatch") || !strings.Contains(html.UnescapeString(body), tc.msg) {
			t.Errorf("%s: %d %s, want 400 InvalidChangeBatch with %q", tc.name, code, body, tc.msg)
		}
		if s.Version("example.com") != v {
			t.Errorf("%s: the refused batch changed the zone", tc.name)
		}
	}
	// A batch whose second change fails changes nothing, its first included.
	both := strings.Replace(change("DELETE", seattle), "</Changes>", `<Change><Action>DELETE</Action>`+strings.Replace(seattle, "www.", "w2.", 1)+`</Change></Changes>`, 1)
	if code, _ := do(t, s, key, secret, "POST", rrset, both); code != 400 || len(s.Sets("example.com")) != 3 {
		t.Fatalf("half-bad batch: %d, %d sets left, want 400 and all 3", code, len(s.Sets("example.com")))
	}
	if code, body := do(t, s, key, secret, "POST", rrset, change("DELETE", seattle)); code != 200 || len(s.Sets("example.com")) != 2 {
		t.Fatalf("exact delete: %d %s", code, body)
	}
	if code, body := do(t, s, key, secret, "GET", "/2013-04-01/hostedzone/"+id+"/rrset?type=A", ""); code != 400 || !strings.Contains(body, "<Code>InvalidInput</Code>") {
		t.Errorf("type without name: %d %s", code, body)
	}
	if code, body := do(t, s, key, secret, "GET", "/2013-04-01/hostedzone/ZNOSUCHZONE/rrset", ""); code != 404 || !strings.Contains(body, "<Code>NoSuchHostedZone</Code>") {
		t.Errorf("no such zone: %d %s", code, body)
	}
	if code, body := do(t, s, key, secret, "GET", "/2013-04-01/hostedzone/"+id, ""); code != 200 || !strings.Contains(body, "<NameServer>"+s.DNSAddr()+"</NameServer>") {
		t.Errorf("GetHostedZone: %d %s", code, body)
	}
	if code, body := do(t, s, key, secret, "GET", "/2013-04-01/hostedzonesbyname?dnsname=example.com", ""); code != 200 || !strings.Contains(body, "<Id>/hostedzone/"+id+"</Id>") || !strings.Contains(body, "<Name>example.com.</Name>") {
		t.Errorf("ListHostedZonesByName: %d %s", code, body)
	}
}

// TestAuth: an unknown key id is 403 InvalidClientTokenId, a wrong secret
// 403 SignatureDoesNotMatch, no signature 403 MissingAuthenticationToken.
func TestAuth(t *testing.T) {
	s := New()
	defer s.Close()
	s.AddZone("example.com")
	path := "/2013-04-01/hostedzonesbyname"
	if code, body := do(t, s, "AKIANOTAKEY000000000", "x", "GET", path, ""); code != 403 || !strings.Contains(body, "<Code>InvalidClientTokenId</Code>") {
		t.Errorf("unknown key: %d %s", code, body)
	}
	if code, body := do(t, s, s.AccessKeyID, "wrong", "GET", path, ""); code != 403 || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") {
		t.Errorf("wrong secret: %d %s", code, body)
	}
	res, err := http.Get(s.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 {
		t.Errorf("unsigned: %d", res.StatusCode)
	}
	id, secret := s.AddKey("agent-1")
	if code, body := do(t, s, id, secret, "GET", path, ""); code != 200 {
		t.Errorf("added key: %d %s", code, body)
	}
}

// TestPaginationAndLimits: a small max items gives pages that chain by
// NextRecordName/Type/Identifier; a batch over 1000 records is refused.
func TestPaginationAndLimits(t *testing.T) {
	s := New()
	defer s.Close()
	id := s.AddZone("example.com")
	for _, n := range []string{"a", "b", "c"} {
		for _, w := range []string{"1", "2"} {
			s.Seed("example.com", RRSet{Name: n + ".example.com", Type: "A", SetIdentifier: n + w, Weight: aws.Int64(1), TTL: aws.Int64(60), Values: []string{"192.0.2.1"}})
		}
	}
	s.SetMaxItems(4)
	var got []string
	q := ""
	for page := 0; page < 5; page++ {
		_, body := do(t, s, s.AccessKeyID, s.SecretAccessKey, "GET", "/2013-04-01/hostedzone/"+id+"/rrset"+q, "")
		var l struct {
			Sets                           []RRSet `xml:"ResourceRecordSets>ResourceRecordSet"`
			IsTruncated                    bool
			NextRecordName, NextRecordType string
			NextRecordIdentifier           string
		}
		if err := xml.Unmarshal([]byte(body), &l); err != nil {
			t.Fatal(err)
		}
		for _, r := range l.Sets {
			got = append(got, r.SetIdentifier)
		}
		if !l.IsTruncated {
			break
		}
		q = "?name=" + l.NextRecordName + "&type=" + l.NextRecordType + "&identifier=" + l.NextRecordIdentifier
	}
	if want := []string{"a1", "a2", "b1", "b2", "c1", "c2"}; !slices.Equal(got, want) {
		t.Fatalf("pages gave %v, want %v", got, want)
	}
	var big bytes.Buffer
	big.WriteString(`<ResourceRecordSet><Name>big.example.com.</Name><Type>TXT</Type><TTL>60</TTL><ResourceRecords>`)
	for range 1001 {
		big.WriteString(`<ResourceRecord><Value>"x"</Value></ResourceRecord>`)
	}
	big.WriteString(`</ResourceRecords></ResourceRecordSet>`)
	if code, body := do(t, s, s.AccessKeyID, s.SecretAccessKey, "POST", "/2013-04-01/hostedzone/"+id+"/rrset/", change("CREATE", big.String())); code != 400 || !strings.Contains(body, "exceeds the maximum") {
		t.Errorf("1001 records: %d %s", code, body)
	}
}

// TestFaults: Throttling and PriorRequestNotComplete answer 400 with their
// code; a lost answer still commits.
func TestFaults(t *testing.T) {
	s := New()
	defer s.Close()
	id := s.AddZone("example.com")
	s.Inject(Fault{Method: "POST", Status: 400, Code: "Throttling"})
	s.Inject(Fault{Method: "POST", Status: 400, Code: "PriorRequestNotComplete"})
	rrset := "/2013-04-01/hostedzone/" + id + "/rrset/"
	set := `<ResourceRecordSet><Name>x.example.com.</Name><Type>A</Type><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>192.0.2.1</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>`
	for _, want := range []string{"Throttling", "PriorRequestNotComplete"} {
		if code, body := do(t, s, s.AccessKeyID, s.SecretAccessKey, "POST", rrset, change("CREATE", set)); code != 400 || !strings.Contains(body, "<Code>"+want+"</Code>") {
			t.Errorf("%s: %d %s", want, code, body)
		}
	}
	if len(s.Sets("example.com")) != 0 {
		t.Fatal("a refused request committed")
	}
	s.Inject(Fault{Method: "POST", LoseAnswer: true})
	req, _ := http.NewRequest("POST", s.URL+rrset, strings.NewReader(change("CREATE", set)))
	sum := sha256.Sum256([]byte(change("CREATE", set)))
	_ = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey}, req, hex.EncodeToString(sum[:]), "route53", "us-east-1", time.Now())
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatal("the lost answer arrived")
	}
	if len(s.Sets("example.com")) != 1 {
		t.Fatal("the request whose answer was lost did not commit")
	}
}
