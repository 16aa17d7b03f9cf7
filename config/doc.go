// Package config loads, defaults and validates goavail's TOML configuration.
//
// A Config is a value: Load parses a file into a fresh struct, fills in
// defaults, rejects unknown keys and reports every problem at once, so a
// reload either swaps in a complete, valid configuration or changes nothing.
package config
