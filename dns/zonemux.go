package dns

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// ZoneMux is the Provider of a config whose zones live at different
// providers: it sends each call to the provider of its zone. Each provider
// must be a Fencer (every provider goavail has is), so the Reconciler
// fences every zone's writes as with one provider.
type ZoneMux struct {
	// Providers are the providers by name ("cloudflare", "rfc2136").
	Providers map[string]Provider
	// Of names the provider of a zone, as the running config says.
	Of func(zone string) string
}

func (m *ZoneMux) of(zone string) (Provider, error) {
	name := m.Of(zone)
	p, ok := m.Providers[name]
	if !ok || p == nil {
		return nil, &PermanentError{Err: fmt.Errorf("zone %s: provider %q was not set up when goavail started; restart it to use a provider a reload added", zone, name)}
	}
	return p, nil
}

func (m *ZoneMux) fencer(zone string) (Fencer, error) {
	p, err := m.of(zone)
	if err != nil {
		return nil, err
	}
	f, ok := p.(Fencer)
	if !ok {
		return nil, &PermanentError{Err: fmt.Errorf("zone %s: provider %q cannot write conditionally", zone, m.Of(zone))}
	}
	return f, nil
}

// Records lists the zone's records at its provider.
func (m *ZoneMux) Records(ctx context.Context, zone string, types []string) ([]Record, error) {
	p, err := m.of(zone)
	if err != nil {
		return nil, err
	}
	return p.Records(ctx, zone, types)
}

// Apply applies the changes at the zone's provider.
func (m *ZoneMux) Apply(ctx context.Context, zone string, creates, deletes []Record) error {
	p, err := m.of(zone)
	if err != nil {
		return err
	}
	return p.Apply(ctx, zone, creates, deletes)
}

// FenceName is the fence record's name at the zone's provider.
func (m *ZoneMux) FenceName(zone string) string {
	if f, err := m.fencer(zone); err == nil {
		return f.FenceName(zone)
	}
	return ""
}

// ReadFence reads the zone's fence at its provider.
func (m *ZoneMux) ReadFence(ctx context.Context, zone string) (ZoneFence, error) {
	f, err := m.fencer(zone)
	if err != nil {
		return ZoneFence{}, err
	}
	return f.ReadFence(ctx, zone)
}

// ApplyFenced makes a fenced write at the zone's provider.
func (m *ZoneMux) ApplyFenced(ctx context.Context, zone string, zf ZoneFence, stamp FenceStamp, creates, deletes []Record) (ZoneFence, error) {
	f, err := m.fencer(zone)
	if err != nil {
		return zf, err
	}
	return f.ApplyFenced(ctx, zone, zf, stamp, creates, deletes)
}

// BatchSize is the smallest of the providers' batch sizes (200 for one
// that states none). The Reconciler asks BatchSizeFor, per zone.
func (m *ZoneMux) BatchSize() int {
	var sizes []int
	for _, p := range m.Providers {
		if b, ok := p.(interface{ BatchSize() int }); ok && b.BatchSize() > 0 {
			sizes = append(sizes, b.BatchSize())
		} else {
			sizes = append(sizes, defaultBatchSize)
		}
	}
	if len(sizes) == 0 {
		return defaultBatchSize
	}
	return slices.Min(sizes)
}

// defaultBatchSize is the batch size of a provider that states none.
const defaultBatchSize = 200

// BatchSizeFor is the batch size of the zone's provider (200 when it
// states none, or the zone has no provider): the Reconciler asks it per
// zone, so an RFC 2136 zone keeps its large UPDATEs beside Cloudflare's
// 200-change batches.
func (m *ZoneMux) BatchSizeFor(zone string) int {
	p, err := m.of(zone)
	if err != nil {
		return defaultBatchSize
	}
	if b, ok := p.(interface{ BatchSize() int }); ok && b.BatchSize() > 0 {
		return b.BatchSize()
	}
	return defaultBatchSize
}

// CheckZones sends each zone to its provider's CheckZones (every zone of a
// provider in one call), and returns their errors joined: a zone whose
// provider was not set up is a *PermanentError; a provider with no
// CheckZones is not checked.
func (m *ZoneMux) CheckZones(ctx context.Context, zones []string) error {
	byProvider := map[string][]string{}
	var errs []error
	for _, z := range zones {
		if _, err := m.of(z); err != nil {
			errs = append(errs, err)
			continue
		}
		byProvider[m.Of(z)] = append(byProvider[m.Of(z)], z)
	}
	kinds := make([]string, 0, len(byProvider))
	for k := range byProvider {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		c, ok := m.Providers[k].(interface {
			CheckZones(ctx context.Context, zones []string) error
		})
		if !ok {
			continue
		}
		if err := c.CheckZones(ctx, byProvider[k]); err != nil {
			errs = append(errs, fmt.Errorf("provider %s: %w", k, err))
		}
	}
	return errors.Join(errs...)
}

// NameServers are the zone's nameservers as its provider knows them, for
// the propagation check; none when the provider does not say.
func (m *ZoneMux) NameServers(ctx context.Context, zone string) ([]string, error) {
	p, err := m.of(zone)
	if err != nil {
		return nil, err
	}
	if ns, ok := p.(interface {
		NameServers(context.Context, string) ([]string, error)
	}); ok {
		return ns.NameServers(ctx, zone)
	}
	return nil, fmt.Errorf("zone %s: provider %q names no nameservers to check", zone, m.Of(zone))
}
