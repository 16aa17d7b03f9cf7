package config

import (
	"fmt"
	"time"
)

// Duration is a time.Duration that reads from TOML either as a whole number
// of seconds (the original goavail's `interval = 5`) or as a Go duration
// string such as "500ms" or "1m30s".
type Duration time.Duration

// UnmarshalTOML implements toml.Unmarshaler.
func (d *Duration) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		*d = Duration(time.Duration(x) * time.Second)
		return nil
	case float64:
		*d = Duration(time.Duration(x * float64(time.Second)))
		return nil
	case string:
		p, err := time.ParseDuration(x)
		if err != nil {
			return fmt.Errorf("not a duration: use whole seconds (5) or a unit (\"500ms\", \"2s\", \"1m\")")
		}
		*d = Duration(p)
		return nil
	default:
		return fmt.Errorf("not a duration: use whole seconds (5) or a string with a unit (\"500ms\")")
	}
}

// MarshalText renders the duration as Go duration text ("1.5s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
