package agent

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCredentials_FromSystemd: the Cloudflare token and the API token are
// read from $CREDENTIALS_DIRECTORY, under their own names or the packaged
// unit's goavail_ prefix; the environment wins.
func TestCredentials_FromSystemd(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "goavail_cloudflare_api_token"), []byte("cf-token\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "api_token"), []byte(" api-token \n"), 0o600)
	env := map[string]string{"CREDENTIALS_DIRECTORY": dir}
	getenv := func(k string) string { return env[k] }
	if c := credentials(getenv); c.Token != "cf-token" {
		t.Errorf("Cloudflare token from credentials = %+v", c)
	}
	if tok, err := APIToken(getenv); err != nil || tok != "api-token" {
		t.Errorf("API token from credentials = %q, %v", tok, err)
	}
	env["CLOUDFLARE_API_TOKEN"], env["GOAVAIL_API_TOKEN"] = "from-env", "env-api"
	if c := credentials(getenv); c.Token != "from-env" {
		t.Errorf("environment should win: %+v", c)
	}
	if tok, _ := APIToken(getenv); tok != "env-api" {
		t.Errorf("environment should win: %q", tok)
	}
	delete(env, "GOAVAIL_API_TOKEN")
	env["GOAVAIL_API_TOKEN_FILE"] = filepath.Join(dir, "missing")
	if _, err := APIToken(getenv); err == nil {
		t.Error("an unreadable GOAVAIL_API_TOKEN_FILE was ignored")
	}
	if tok, err := APIToken(func(string) string { return "" }); tok != "" || err != nil {
		t.Errorf("no token anywhere = %q, %v", tok, err)
	}
}
