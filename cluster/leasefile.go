package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The lease length a restart waits out. An endorser's promise lasts the
// lease length it ran with when it made it; after a restart with a shorter
// view_stale_after, its blackout must still outlast the older, longer
// promises. So the incarnation file has a companion, "<file>.lease", that
// holds the longest length this agent may have promised under: a start
// blacks out for the longer of it and its own length, writes that longer
// one, and writes its own once the blackout is over.

// leaseFile names the companion of the incarnation file path.
func leaseFile(path string) string { return path + ".lease" }

// startBlackout returns how long this start must wait before it names or
// counts anyone: the longer of length and the length saved in path's
// companion, which it then holds. With no path it is length.
func startBlackout(path string, length time.Duration) (time.Duration, error) {
	if path == "" {
		return length, nil
	}
	b, err := os.ReadFile(leaseFile(path))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return 0, fmt.Errorf("read the lease length file: %w", err)
	default:
		saved, perr := time.ParseDuration(strings.TrimSpace(string(b)))
		if perr != nil {
			return 0, fmt.Errorf("lease length file %s is corrupt (%q): remove it and restart after view_stale_after has passed twice", leaseFile(path), b)
		}
		length = max(length, saved)
	}
	return length, saveLeaseLength(path, length)
}

// saveLeaseLength replaces path's companion with length, atomically.
func saveLeaseLength(path string, length time.Duration) error {
	name := leaseFile(path)
	tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".tmp")
	err := os.WriteFile(tmp, []byte(length.String()+"\n"), 0o600)
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write the lease length file: %w", err)
	}
	return nil
}

// afterBlackout writes this start's own lease length to the lease length
// file once the blackout is over: from then on, only promises made with it
// are outstanding.
func (c *Cluster) afterBlackout() *time.Timer {
	if c.elector == nil || c.cfg.IncarnationFile == "" {
		return time.NewTimer(time.Duration(1<<63 - 1))
	}
	left := c.blackout - c.cfg.Mono().Sub(c.elector.started)
	return time.AfterFunc(max(left, 0), func() {
		if err := saveLeaseLength(c.cfg.IncarnationFile, c.elector.length); err != nil {
			c.cfg.Log.Warn("lease length file not updated: the next start waits out the longer length", "err", err)
		}
	})
}
