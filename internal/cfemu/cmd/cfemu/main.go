// Command cfemu runs the Cloudflare API emulator the tests use, for an
// operator's rehearsal: a dry run of --no-dry-run against a copy of the
// zone, or a smoke test in their own CI. It is a development tool, not part
// of the packages:
//
//	go run ./internal/cfemu/cmd/cfemu -listen 127.0.0.1:8787 -seed seed.json
//
// It prints the CLOUDFLARE_BASE_URL and CLOUDFLARE_API_TOKEN to give
// goavail (and writes them to -env-file when set), serves until SIGINT or
// SIGTERM, then prints every zone's records as JSON. See
// docs/development.md, "A Cloudflare emulator to rehearse against".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/goavail/goavail/internal/cfemu"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cfemu:", err)
		os.Exit(2)
	}
}

// seedFile is the -seed file: each zone's records, by zone name.
//
//	{"zones": {"example.com": [{"name": "www.example.com", "type": "A", "content": "192.0.2.10", "ttl": 60}]}}
type seedFile struct {
	Zones map[string][]cfemu.Record `json:"zones"`
}

// run serves the emulator until ctx ends.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cfemu", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8787", "address the API listens on (host:port; port 0 picks one)")
	seedPath := fs.String("seed", "", "JSON file of zones and their records (see the package comment); without it, zone example.com, empty")
	envFile := fs.String("env-file", "", "also write CLOUDFLARE_BASE_URL and CLOUDFLARE_API_TOKEN to this file once serving (for a CI job to wait on)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	seed := seedFile{Zones: map[string][]cfemu.Record{"example.com": nil}}
	if *seedPath != "" {
		b, err := os.ReadFile(*seedPath)
		if err != nil {
			return fmt.Errorf("read the seed file: %w", err)
		}
		seed = seedFile{}
		if err := json.Unmarshal(b, &seed); err != nil {
			return fmt.Errorf("seed file %s: %w", *seedPath, err)
		}
		if len(seed.Zones) == 0 {
			return fmt.Errorf("seed file %s: no zones", *seedPath)
		}
	}
	emu, err := cfemu.NewOn(*listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	defer emu.Close()
	names := sortedKeys(seed.Zones)
	for _, z := range names {
		emu.AddZone(z)
		for _, r := range seed.Zones[z] {
			if r.Name == "" || r.Type == "" || r.Content == "" {
				return errors.New("seed file: every record needs name, type and content")
			}
			if r.TTL == 0 {
				r.TTL = 1 // Cloudflare's "automatic"
			}
			emu.Seed(z, r)
		}
	}
	env := fmt.Sprintf("CLOUDFLARE_BASE_URL=%s\nCLOUDFLARE_API_TOKEN=%s\n", emu.BaseURL(), emu.Token)
	fmt.Fprintf(stdout, "# cfemu serving zones %v; a token without permissions (403, 10000): %s\n%s", names, emu.NoPermToken, env)
	if *envFile != "" {
		if err := os.WriteFile(*envFile, []byte(env), 0o600); err != nil {
			return err
		}
	}
	<-ctx.Done()
	out := map[string][]cfemu.Record{}
	for _, z := range names {
		out[z] = emu.Records(z)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(seedFile{Zones: out})
}

func sortedKeys(m map[string][]cfemu.Record) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
