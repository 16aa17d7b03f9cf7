package dns

import (
	"context"
)

// Provider is where the records live. Records lists a zone's records of the
// given types; Apply creates and deletes records, idempotently enough that
// re-planning after a failure converges.
type Provider interface {
	Records(ctx context.Context, zone string, types []string) ([]Record, error)
	Apply(ctx context.Context, zone string, creates, deletes []Record) error
}
