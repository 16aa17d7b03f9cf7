package cloudflare

import (
	"context"
	"errors"
)

// CheckZones looks every zone up, as the first pass would, so that a
// refused credential or a wrong API URL shows at start rather than at the
// first transition. It returns every zone's error joined: a
// *dns.PermanentError for a definite refusal, any other error when the API
// could not be asked (unreachable, timed out, 5xx).
func (c *Adapter) CheckZones(ctx context.Context, zones []string) error {
	var errs []error
	for _, z := range zones {
		if _, err := c.zone(ctx, z); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
