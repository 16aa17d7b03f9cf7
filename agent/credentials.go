package agent

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/goavail/goavail/dns/cloudflare"
)

// APIToken finds the bearer token of the drain API: GOAVAIL_API_TOKEN,
// else the file GOAVAIL_API_TOKEN_FILE names, else the systemd credential
// api_token ($CREDENTIALS_DIRECTORY/api_token). It returns "" when none is
// set; a named file that cannot be read is an error.
func APIToken(getenv func(string) string) (string, error) {
	if t := strings.TrimSpace(getenv("GOAVAIL_API_TOKEN")); t != "" {
		return t, nil
	}
	if p := getenv("GOAVAIL_API_TOKEN_FILE"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("GOAVAIL_API_TOKEN_FILE: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	b, err := readCredential(getenv, "api_token")
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("credential api_token: %w", err)
	}
	return "", nil
}

// credentialsSource is where the packaged unit's credentials come from;
// goavail reads them there itself when it runs outside the unit (validate,
// drain, or monitor started by hand as root).
const credentialsSource = "/etc/goavail/credentials"

// credentialsDir is $CREDENTIALS_DIRECTORY under systemd, else
// credentialsSource.
func credentialsDir(getenv func(string) string) string {
	return cmp.Or(getenv("CREDENTIALS_DIRECTORY"), credentialsSource)
}

// readCredential reads the systemd credential name from credentialsDir:
// the file name, or goavail_name as the packaged unit
// (LoadCredential=goavail:/etc/goavail/credentials) calls it.
func readCredential(getenv func(string) string, name string) ([]byte, error) {
	dir := credentialsDir(getenv)
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		b, err = os.ReadFile(filepath.Join(dir, "goavail_"+name))
	}
	return b, err
}

// credentials reads the API credentials from the environment: a token
// first, then the global key with its email, then the original goavail's
// CF_API_KEY and CF_API_EMAIL.
func credentials(getenv func(string) string) cloudflare.Credentials {
	if t := getenv("CLOUDFLARE_API_TOKEN"); t != "" {
		return cloudflare.Credentials{Token: t}
	}
	if b, err := readCredential(getenv, "cloudflare_api_token"); err == nil && len(strings.TrimSpace(string(b))) > 0 { // systemd LoadCredential=
		return cloudflare.Credentials{Token: strings.TrimSpace(string(b))}
	}
	if k := getenv("CLOUDFLARE_API_KEY"); k != "" {
		return cloudflare.Credentials{Key: k, Email: getenv("CLOUDFLARE_EMAIL")}
	}
	return cloudflare.Credentials{Key: getenv("CF_API_KEY"), Email: getenv("CF_API_EMAIL")}
}

// TSIGSecret finds the RFC 2136 provider's TSIG secret:
// GOAVAIL_TSIG_SECRET, else the file GOAVAIL_TSIG_SECRET_FILE names, else
// the systemd credential tsig_secret. A file may hold the bare base64
// secret or BIND's key statement (tsig-keygen's output). It returns the
// secret and where it came from, or "" for both when none is set; a named
// file that cannot be read is an error.
func TSIGSecret(getenv func(string) string) (secret, from string, err error) {
	if s := strings.TrimSpace(getenv("GOAVAIL_TSIG_SECRET")); s != "" {
		return s, "GOAVAIL_TSIG_SECRET", nil
	}
	if p := getenv("GOAVAIL_TSIG_SECRET_FILE"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", "", fmt.Errorf("GOAVAIL_TSIG_SECRET_FILE: %w", err)
		}
		return keySecret(string(b)), "GOAVAIL_TSIG_SECRET_FILE " + p, nil
	}
	b, err := readCredential(getenv, "tsig_secret")
	if err == nil {
		return keySecret(string(b)), "credential tsig_secret", nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("credential tsig_secret: %w", err)
	}
	return "", "", nil
}

// keySecret is the secret in text: the quoted secret of a BIND key
// statement, or the text itself.
func keySecret(text string) string {
	if _, rest, ok := strings.Cut(text, "secret"); ok && strings.Contains(text, "algorithm") {
		if _, q, ok := strings.Cut(rest, `"`); ok {
			if s, _, ok := strings.Cut(q, `"`); ok {
				return strings.TrimSpace(s)
			}
		}
	}
	return strings.TrimSpace(text)
}
