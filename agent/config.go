package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/config"
	"github.com/goavail/goavail/crypto"
	"github.com/goavail/goavail/dns"
)

// LoadConfig loads the file and resolves its cluster keys, reporting every
// problem of both at once.
func LoadConfig(path string, getenv func(string) string) (*config.Config, [][]byte, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	if len(cfg.Members.CryptoKey) == 0 {
		return cfg, nil, nil
	}
	src := crypto.Source{
		LookupEnv:      func(n string) (string, bool) { v := getenv(n); return v, v != "" },
		ReadFile:       os.ReadFile,
		CredentialsDir: credentialsDir(getenv),
	}
	keys, err := crypto.ResolveKeys(cfg.Members.CryptoKey, src)
	if errors.Is(err, fs.ErrPermission) {
		return nil, nil, fmt.Errorf("config %s: Members.crypto_key: %w\n(the packaged unit runs as a dynamic user that cannot read root's files: "+
			"put the key in /etc/goavail/credentials/crypto_key and set crypto_key = \"cred:crypto_key\")", path, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: Members.crypto_key: %w", path, err)
	}
	return cfg, keys, nil
}

// loadMemory opens the state file that keeps removed records' exact
// attributes. Problems are reported and never stop the agent: it then
// restores records with the configured values.
func loadMemory(cfg *config.Config, getenv func(string) string, log *slog.Logger) *dns.Memory {
	path := stateFile(cfg, getenv)
	m, err := dns.LoadMemory(path)
	switch {
	case path == "":
		log.Warn(NoStateFileWarning)
	case errors.Is(err, dns.ErrNoState):
		log.Info("state file starts empty", "path", path)
	case err != nil:
		log.Warn("state file unusable; records removed before this start will be restored with the configured ttl, proxied and comment", "path", path, "err", err)
	default:
		log.Info("state file loaded", "path", path, "remembered_records", m.Len())
	}
	return m
}

// NoStateFileWarning is what goavail says, at start and in validate,
// when it has no state file (a run by hand without state_file).
const NoStateFileWarning = "no state file (state_file unset and no systemd $STATE_DIRECTORY): drains made with goavail drain, " +
	"removed records' ttl, comment and tags, and the cluster's start counter are lost at a restart; set state_file, e.g. \"/var/lib/goavail/state.json\""

// StateFile is the state file's path: state_file, else state.json in
// systemd's $STATE_DIRECTORY, else "" (memory only).
func StateFile(cfg *config.Config, getenv func(string) string) string {
	return stateFile(cfg, getenv)
}

// stateFile is the state file's path: state_file, else state.json in
// systemd's $STATE_DIRECTORY, else "" (memory only).
func stateFile(cfg *config.Config, getenv func(string) string) string {
	path := cfg.StateFile
	if dir, _, _ := strings.Cut(getenv("STATE_DIRECTORY"), ":"); path == "" && dir != "" {
		path = filepath.Join(dir, "state.json")
	}
	return path
}

func safety(cfg *config.Config) dns.Safety {
	return dns.Safety{
		Damping:     dns.Damping{HalfLife: cfg.FlapHalfLife.D(), Suppress: cfg.FlapSuppress, Reuse: cfg.FlapReuse},
		MaxRemovals: cfg.MaxRemovals, RemovalWindow: cfg.RemovalWindow.D(),
	}
}

func rules(cfg *config.Config) cluster.Rules {
	m := cfg.Members
	return cluster.Rules{MinPeersAgree: m.MinPeersAgree, StaleAfter: m.ViewStaleAfter.D(), IsolationThreshold: m.IsolationThreshold,
		Reconfirm: cfg.FailureThreshold, FailOpenSets: failOpenSets(cfg)} // the release rule: cluster/release.go
}

// dnsGroups converts the config's groups to the planner's.
func dnsGroups(c *config.Config) []dns.Group {
	out := make([]dns.Group, len(c.Groups))
	for i, g := range c.Groups {
		ttl := g.TTL
		if !g.TTLSet && !g.Proxied {
			ttl = 0 // unset: a restored record keeps its own (dns.Memory.Restore)
		}
		out[i] = dns.Group{Zone: g.Zone, Hostnames: g.Hostnames, Addrs: g.Addrs, TTL: ttl, Proxied: g.Proxied, Comment: g.Comment, FailStatic: g.FailStatic}
		if len(g.Backups)+len(g.Fallbacks) > 0 {
			out[i].Addrs = append(slices.Clone(g.Addrs), g.Fallbacks...)
			out[i].Backups, out[i].Fallbacks, out[i].MinPrimaryUp = g.Backups, g.Fallbacks, g.MinPrimaryUp
		}
	}
	return out
}
