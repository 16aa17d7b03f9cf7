package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Webhook formats.
const (
	FormatJSON  = "json"  // the Event as JSON
	FormatSlack = "slack" // {"text": summary}, for Slack, Mattermost and the like
)

// Webhook POSTs each event to a URL, retrying network errors, 429 and 5xx
// with exponential backoff (honouring Retry-After).
type Webhook struct {
	URL        string // may hold a secret (Slack's do): never logged
	Format     string
	Timeout    time.Duration // per attempt
	MaxRetries int
	Kinds      []string
	Client     *http.Client
	// MinBackoff and MaxBackoff bound the wait between attempts (1s and 30s
	// when zero).
	MinBackoff, MaxBackoff time.Duration
	// Wait waits d between two attempts, or until ctx ends. Nil sleeps;
	// tests pass their own to see the waits without spending them.
	Wait func(ctx context.Context, d time.Duration) error
}

// Name names the webhook without its path or query, which may be secret.
func (w Webhook) Name() string {
	if u, err := url.Parse(w.URL); err == nil {
		return "webhook " + u.Scheme + "://" + u.Host
	}
	return "webhook"
}

// Wants reports whether the webhook receives kind.
func (w Webhook) Wants(kind string) bool { return wants(w.Kinds, kind) }

// Body renders e in the webhook's format.
func (w Webhook) Body(e Event) ([]byte, error) {
	if w.Format == FormatSlack {
		return json.Marshal(map[string]string{"text": e.Summary()})
	}
	return json.Marshal(e)
}

// Deliver posts e until it is accepted, a retry budget is spent, or ctx
// ends.
func (w Webhook) Deliver(ctx context.Context, e Event) error {
	body, err := w.Body(e)
	if err != nil {
		return err
	}
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	lo, hi := w.MinBackoff, w.MaxBackoff
	if lo <= 0 {
		lo = time.Second
	}
	if hi <= 0 {
		hi = 30 * time.Second
	}
	var last error
	for attempt := 0; attempt <= w.MaxRetries; attempt++ {
		wait, err := w.post(ctx, client, body)
		if err == nil {
			return nil
		}
		last = err
		if wait < 0 { // not worth retrying
			break
		}
		if wait == 0 {
			wait = min(lo<<min(attempt, 16), hi)
			wait -= time.Duration(rand.Int64N(int64(wait)/4 + 1))
		}
		if attempt == w.MaxRetries {
			break // no retry left: do not wait for nothing
		}
		if err := w.wait(ctx, wait); err != nil {
			return err
		}
	}
	return fmt.Errorf("%s: gave up: %w", w.Name(), last)
}

func (w Webhook) wait(ctx context.Context, d time.Duration) error {
	if w.Wait != nil {
		return w.Wait(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// post makes one attempt. The wait it returns is -1 for a final failure,
// the server's Retry-After if it gave one, else 0.
func (w Webhook) post(ctx context.Context, client *http.Client, body []byte) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return -1, fmt.Errorf("bad webhook URL for %s", w.Name())
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "goavail")
	res, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", w.Name(), redact(err))
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	switch {
	case res.StatusCode < 300:
		return 0, nil
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		var wait time.Duration
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		return wait, fmt.Errorf("%s answered %s", w.Name(), res.Status)
	}
	return -1, fmt.Errorf("%s refused the notification: %s", w.Name(), res.Status)
}

// redact drops the URL (which may carry a token) from a client error.
func redact(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
