package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary text to the loader: it must never panic, and a
// config it accepts must render to an effective config that loads again
// to the same groups.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.toml")
	files = append(files, "../goavail.toml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse(text)
		if err != nil {
			return
		}
		again, err := Parse(c.Effective())
		if err != nil {
			t.Fatalf("effective config does not load: %v\n%s", err, c.Effective())
		}
		if len(again.Groups) != len(c.Groups) || len(again.Addrs()) != len(c.Addrs()) {
			t.Fatalf("effective config lost groups or addresses")
		}
	})
}
