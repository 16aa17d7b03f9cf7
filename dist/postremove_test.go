package dist

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPostremove_PurgeTakesTheCredentials: a purge removes the secrets in
// the credentials directory (it used to leave /etc/goavail/credentials/*
// behind); a remove and an upgrade keep them.
func TestPostremove_PurgeTakesTheCredentials(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		kept bool
	}{{"remove", true}, {"upgrade", true}, {"purge", false}} {
		dir := filepath.Join(t.TempDir(), "credentials")
		os.Mkdir(dir, 0o700)
		os.WriteFile(filepath.Join(dir, "cloudflare_api_token"), []byte("secret"), 0o600)
		cmd := exec.Command("sh", "postremove.sh", tc.arg)
		cmd.Env = append(os.Environ(), "GOAVAIL_CREDENTIALS_DIR="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("postremove.sh %s: %v\n%s", tc.arg, err, out)
		}
		_, err := os.Stat(filepath.Join(dir, "cloudflare_api_token"))
		if kept := err == nil; kept != tc.kept {
			t.Errorf("postremove.sh %s: token kept %v, want %v", tc.arg, kept, tc.kept)
		}
	}
}
