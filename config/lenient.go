package config

import (
	"os"

	"github.com/BurntSushi/toml"
)

// AgentAddress reads only http_listen and node_name from a config file
// that does not load (an invalid value elsewhere, an unknown key), for the
// commands that ask a running agent: the agent runs on the config it
// loaded, and the operator needs status and drain most when the file on
// disk is broken. ok is false when the file cannot be read or is not
// TOML at all; listen is DefaultHTTPListen when the file does not set it.
func AgentAddress(path string) (listen, node string, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", false
	}
	var v struct {
		HTTPListen *string `toml:"http_listen"`
		NodeName   string  `toml:"node_name"`
	}
	if _, err := toml.Decode(string(b), &v); err != nil {
		return "", "", false
	}
	listen = DefaultHTTPListen
	if v.HTTPListen != nil {
		listen = *v.HTTPListen
	}
	return listen, v.NodeName, true
}
