package r53emu

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// authError is a refused signature: Route 53's code and message.
type authError struct{ code, msg string }

// authenticate checks r's SigV4 signature (Authorization header) against
// the known keys, by signing the same request again with the key's secret;
// it returns the key's label.
func (s *Server) authenticate(r *http.Request, body []byte) (string, *authError) {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "", &authError{"MissingAuthenticationToken", "Missing Authentication Token"}
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/") // AKID/date/region/service/aws4_request
	if len(scope) != 5 {
		return "", &authError{"IncompleteSignature", "Authorization header requires 'Credential' parameter."}
	}
	s.mu.Lock()
	key, known := s.keys[scope[0]]
	s.mu.Unlock()
	if !known {
		return "", &authError{"InvalidClientTokenId", "The security token included in the request is invalid."}
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return key.label, &authError{"IncompleteSignature", "Missing or malformed X-Amz-Date"}
	}
	again, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return key.label, &authError{"IncompleteSignature", err.Error()}
	}
	again.ContentLength = int64(len(body))
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		switch h {
		case "host", "content-length", "x-amz-date":
		default:
			again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: scope[0], SecretAccessKey: key.secret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, hex.EncodeToString(sum[:]), scope[3], scope[2], at); err != nil {
		return key.label, &authError{"IncompleteSignature", err.Error()}
	}
	if sig(again.Header.Get("Authorization")) != fields["Signature"] {
		return key.label, &authError{"SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}
	}
	return key.label, nil
}

// sig is the Signature= part of an Authorization header.
func sig(auth string) string {
	_, v, _ := strings.Cut(auth, "Signature=")
	return v
}
