package agent

import (
	"slices"
	"testing"

	"github.com/goavail/goavail/config"
)

// TestRestartOnlyChanges_NamesTheChangedKeys: a reload that changes
// batch_size names batch_size, not the five API keys (nor the nine
// cluster and listener keys) it used to list whatever changed.
func TestRestartOnlyChanges_NamesTheChangedKeys(t *testing.T) {
	base := func() *config.Config {
		c := &config.Config{NodeName: "a", HTTPListen: "127.0.0.1:9800"}
		c.Cloudflare.BatchSize = 200
		c.Members.Peers = []string{"192.0.2.7"}
		return c
	}
	for _, tc := range []struct {
		change func(*config.Config)
		want   []string
	}{
		{func(c *config.Config) {}, nil},
		{func(c *config.Config) { c.Cloudflare.BatchSize = 100 }, []string{"batch_size"}},
		{func(c *config.Config) { c.HTTPListen = "" }, []string{"http_listen"}},
		{func(c *config.Config) { c.Hooks = []config.HookConfig{{Command: []string{"/bin/true"}}} }, []string{"[[Hooks]]"}},
		{func(c *config.Config) { c.Webhooks = []config.WebhookConfig{{URL: "env:X"}}; c.NodeName = "b" }, []string{"node_name", "[[Webhooks]]"}},
		{func(c *config.Config) { c.Members.Peers = nil; c.Cloudflare.AccountID = "x" }, []string{"peers", "account_id"}},
	} {
		c := base()
		tc.change(c)
		if got := restartOnlyChanges(base(), c); !slices.Equal(got, tc.want) {
			t.Errorf("got %v, want %v", got, tc.want)
		}
	}
}
