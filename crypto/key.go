package crypto

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Key prefixes. A key without a prefix is raw text, as the original
// goavail took it.
const (
	prefixHex    = "hex:"
	prefixBase64 = "base64:"
	prefixEnv    = "env:"
	prefixFile   = "file:"
	prefixCred   = "cred:"
)

// ParseKey decodes one key: "hex:…", "base64:…" or raw text. The result must
// be 16, 24 or 32 bytes (AES-128, AES-192 or AES-256).
func ParseKey(s string) ([]byte, error) {
	var key []byte
	switch {
	case strings.HasPrefix(s, prefixHex):
		k, err := hex.DecodeString(s[len(prefixHex):])
		if err != nil {
			return nil, fmt.Errorf("hex key does not decode: %w", err)
		}
		key = k
	case strings.HasPrefix(s, prefixBase64):
		k, err := base64.StdEncoding.DecodeString(s[len(prefixBase64):])
		if err != nil {
			return nil, fmt.Errorf("base64 key does not decode: %w", err)
		}
		key = k
	default:
		key = []byte(s)
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	}
	return nil, fmt.Errorf("key is %d bytes; it must be 16, 24 or 32 (raw text, hex:… or base64:…; goavail keygen makes one)", len(key))
}

// Source reads what a key reference points at. cmd passes os.LookupEnv and
// os.ReadFile; tests pass maps.
type Source struct {
	LookupEnv func(string) (string, bool)
	ReadFile  func(string) ([]byte, error)
	// CredentialsDir is systemd's $CREDENTIALS_DIRECTORY, where "cred:NAME"
	// is read from (LoadCredential=); empty outside such a service.
	CredentialsDir string
}

// ResolveKey parses a key given inline or by reference: "env:NAME" reads the
// environment variable, "file:/path" reads the file, "cred:NAME" reads the
// systemd credential NAME, or goavail_NAME as the packaged unit's
// LoadCredential=goavail:/etc/goavail/credentials names the file NAME
// (surrounding white space dropped); what each holds
// is parsed by ParseKey. Errors never contain the key.
func ResolveKey(spec string, src Source) ([]byte, error) {
	switch {
	case strings.HasPrefix(spec, prefixCred):
		name := spec[len(prefixCred):]
		if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
			return nil, fmt.Errorf("cred:%s: a credential name is one file name, e.g. cred:crypto_key", name)
		}
		if src.CredentialsDir == "" {
			return nil, fmt.Errorf("cred:%s: $CREDENTIALS_DIRECTORY is not set: cred: reads systemd credentials (LoadCredential=%s:/path in the unit); outside systemd use file:/path or env:NAME", name, name)
		}
		b, err := src.ReadFile(src.CredentialsDir + "/" + name)
		if errors.Is(err, fs.ErrNotExist) { // LoadCredential=goavail:/dir names each file goavail_FILE
			if b2, err2 := src.ReadFile(src.CredentialsDir + "/goavail_" + name); err2 == nil {
				b, err = b2, nil
			}
		}
		if err != nil {
			return nil, fmt.Errorf("read credential %s: %w", name, err)
		}
		k, err := ParseKey(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("credential %s: %w", name, err)
		}
		return k, nil
	case strings.HasPrefix(spec, prefixEnv):
		name := spec[len(prefixEnv):]
		v, ok := src.LookupEnv(name)
		if !ok || v == "" {
			return nil, fmt.Errorf("environment variable %s is not set", name)
		}
		k, err := ParseKey(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("environment variable %s: %w", name, err)
		}
		return k, nil
	case strings.HasPrefix(spec, prefixFile):
		path := spec[len(prefixFile):]
		b, err := src.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read key file: %w", err)
		}
		k, err := ParseKey(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("key file %s: %w", path, err)
		}
		return k, nil
	}
	return ParseKey(spec)
}

// ResolveKeys resolves every key in order; the first is the one that sends.
// All problems are reported, each with its position.
func ResolveKeys(specs []string, src Source) ([][]byte, error) {
	if len(specs) == 0 {
		return nil, errors.New("no key given")
	}
	keys := make([][]byte, 0, len(specs))
	var errs []error
	for i, s := range specs {
		k, err := ResolveKey(s, src)
		if err != nil {
			errs = append(errs, fmt.Errorf("key %d: %w", i+1, err))
			continue
		}
		keys = append(keys, k)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return keys, nil
}

// GenerateKey returns a fresh random AES-256 key as "base64:…", ready to
// paste into crypto_key.
func GenerateKey() string {
	k := make([]byte, 32)
	rand.Read(k) // never fails on supported platforms
	return prefixBase64 + base64.StdEncoding.EncodeToString(k)
}
