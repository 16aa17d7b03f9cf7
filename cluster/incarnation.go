package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// nextIncarnation returns this start's incarnation: the start time in
// nanoseconds, or one more than the previous start's when that is higher
// (the clock stepped back), kept in path. With no path the start time is
// used as it is. The file is replaced atomically before the first message
// goes out, so two starts never share an incarnation.
func nextIncarnation(path string, now time.Time) (uint64, error) {
	inc := uint64(max(now.UnixNano(), 1))
	if path == "" {
		return inc, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return 0, fmt.Errorf("read the incarnation file: %w", err)
	default:
		prev, perr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if perr != nil {
			return 0, fmt.Errorf("incarnation file %s is corrupt (%q): remove it and restart", path, b)
		}
		inc = max(inc, prev+1)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("write the incarnation file: %w", err)
	}
	_, err = f.WriteString(strconv.FormatUint(inc, 10) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("write the incarnation file: %w", err)
	}
	return inc, nil
}
