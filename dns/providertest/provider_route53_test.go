package providertest_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/goavail/goavail/dns/route53"
	"github.com/goavail/goavail/internal/r53emu"
)

// route53Provider is the Route 53 provider (dns/route53, through
// aws-sdk-go-v2) against the emulator (internal/r53emu).
//   - stale: a hand edit (r53emu.Seed) adding the value to the set: every
//     write DELETEs the sets it touches as listed, which Route 53 refuses
//     when they changed (InvalidChangeBatch).
//   - transient: the next change batch is answered 503.
//   - permanent: every change batch to the zone is answered 403
//     AccessDenied.
//   - pages: the emulator's maxitems cap.
func route53Provider() provider {
	return provider{name: "route53", start: startRoute53}
}

func startRoute53(t *testing.T, e env) *world {
	t.Helper()
	emu := r53emu.New()
	t.Cleanup(emu.Close)
	ids := map[string]string{}
	for _, z := range e.zones {
		ids[z.name] = emu.AddZone(z.name)
		for _, s := range rrsets(z.seed) {
			emu.Seed(z.name, s)
		}
		if z.refuseWrites {
			emu.Inject(r53emu.Fault{Method: http.MethodPost, PathContains: ids[z.name] + "/rrset", Status: http.StatusForbidden, Code: "AccessDenied", Count: 1 << 30})
		}
	}
	timeout := e.timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(emu.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: emu.AccessKeyID, SecretAccessKey: emu.SecretAccessKey, Source: "test"}, nil
		})}
	p, err := route53.New(context.Background(), route53.Options{Names: e.names, FenceLabel: "_goavail", AWS: &cfg, PollInterval: -1, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	requests := func(method, zone string) []r53emu.Request {
		var out []r53emu.Request
		for _, r := range emu.Requests() {
			if r.Method == method && strings.Contains(r.Path, "/hostedzone/"+ids[zone]+"/rrset") {
				out = append(out, r)
			}
		}
		return out
	}
	return &world{
		provider: p,
		read: func(t *testing.T, zone string, names ...string) []rec {
			var out []rec
			for _, s := range emu.Sets(zone) {
				name := strings.TrimSuffix(s.Name, ".")
				if !slices.Contains(names, name) || s.TTL == nil {
					continue
				}
				for _, v := range s.Values {
					out = append(out, rec{name: name, typ: s.Type, content: strings.Trim(v, `"`), ttl: int(*s.TTL)})
				}
			}
			return out
		},
		stale: func(t *testing.T, zone string, r rec) {
			for _, s := range emu.Sets(zone) {
				if strings.TrimSuffix(s.Name, ".") == r.name && s.Type == r.typ && s.SetIdentifier == "" {
					s.Values = append(s.Values, r.content)
					emu.Seed(zone, s)
					return
				}
			}
			emu.Seed(zone, rrsets([]rec{r})[0])
		},
		transient: func(t *testing.T, zone string) {
			emu.Inject(r53emu.Fault{Method: http.MethodPost, PathContains: ids[zone] + "/rrset", Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Count: 1})
		},
		loseAnswer: func(t *testing.T, zone string) {
			emu.Inject(r53emu.Fault{Method: http.MethodPost, PathContains: ids[zone] + "/rrset", LoseAnswer: true, Count: 1})
		},
		writes: func(zone string) (ok, failed int) {
			for _, r := range requests(http.MethodPost, zone) {
				if r.Status == http.StatusOK {
					ok++
				} else {
					failed++
				}
			}
			return ok, failed
		},
		pageSize: func(t *testing.T, n int) string { emu.SetMaxItems(n); return "" },
		latency: func(t *testing.T, d time.Duration) {
			emu.Inject(r53emu.Fault{Method: http.MethodGet, PathContains: "/rrset", Delay: d, Count: 1 << 30})
		},
		pagesRead: func() int {
			n := 0
			for z := range ids {
				for _, r := range requests(http.MethodGet, z) {
					// a page after the first names where it starts; the
					// fence read asks for one set
					if strings.Contains(r.Query, "name=") && !strings.Contains(r.Query, "maxitems=1") {
						n++
					}
				}
			}
			return n
		},
		oneTTLPerRRset: "a Route 53 record set has one TTL for all its values",
	}
}

// rrsets groups records into Route 53 sets, one per name and type, with
// the TTL of the first.
func rrsets(recs []rec) []r53emu.RRSet {
	var out []r53emu.RRSet
	for _, r := range recs {
		i := slices.IndexFunc(out, func(s r53emu.RRSet) bool { return s.Name == r.name && s.Type == r.typ })
		if i < 0 {
			ttl := int64(r.ttl)
			out = append(out, r53emu.RRSet{Name: r.name, Type: r.typ, TTL: &ttl})
			i = len(out) - 1
		}
		v := r.content
		if r.typ == "TXT" {
			v = `"` + v + `"`
		}
		out[i].Values = append(out[i].Values, v)
	}
	return out
}
