package dns

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The zone fence: a compare-and-swap at the provider on every write.
//
// The writer lease (fence.go) bounds when a batch may *start*; nothing
// bounds how long a request then spends in transit or in the provider's
// queue. So a provider that can write conditionally (a Fencer) carries,
// with every write, the proof of the listing the write was planned on: the
// zone's fence as read before the listing. If any write of goavail's
// reached the zone since, the fence has moved and the provider refuses the
// whole write (FenceMovedError): the pass lists again and plans again; the
// stale plan is never retried.
//
// Invariant: a write lands only on the zone state it was planned on, as
// far as goavail's own writes go. Every write replaces the fence, so a
// write planned before another write committed names a fence that no
// longer exists. A hand edit does not move the fence; the level-triggered
// pass heals it at the next listing.

// FencePrefix starts every fence record's content; a listing finds the
// fence by it.
const FencePrefix = "goavail-fence"

// FenceStamp is what a fence record says: who wrote the zone last.
type FenceStamp struct {
	Deployment string    // the deployment (config key deployment)
	Writer     string    // the writing agent's node_name
	Term       uint64    // the writer lease's term (0 for a lone agent)
	At         time.Time // when the write was sent, by the writer's clock
}

// Content is the stamp as the fence record's TXT content, one line that
// `dig TXT` shows as it is.
func (s FenceStamp) Content() string {
	return fmt.Sprintf("%s v1 deployment=%s writer=%s term=%d at=%s", FencePrefix, s.Deployment, s.Writer, s.Term, s.At.UTC().Format(time.RFC3339Nano))
}

// GenesisContent is the content of a zone's first fence record, which is
// never deleted: a second agent racing to create the first fence gets
// "identical record exists" and its write is refused like a stale one.
const GenesisContent = FencePrefix + " v1 genesis"

// ParseFenceStamp reads a stamp from a fence record's content.
func ParseFenceStamp(content string) (FenceStamp, error) {
	content = strings.Trim(content, `"`)
	f := strings.Fields(content)
	if len(f) < 2 || f[0] != FencePrefix || f[1] != "v1" {
		return FenceStamp{}, fmt.Errorf("not a goavail fence: %q", content)
	}
	var s FenceStamp
	for _, kv := range f[2:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return FenceStamp{}, fmt.Errorf("fence %q: %q is not key=value", content, kv)
		}
		var err error
		switch k {
		case "deployment":
			s.Deployment = v
		case "writer":
			s.Writer = v
		case "term":
			s.Term, err = strconv.ParseUint(v, 10, 64)
		case "at":
			s.At, err = time.Parse(time.RFC3339Nano, v)
		}
		if err != nil {
			return FenceStamp{}, fmt.Errorf("fence %q: %s: %w", content, k, err)
		}
	}
	if s.Deployment == "" {
		return FenceStamp{}, fmt.Errorf("fence %q names no deployment", content)
	}
	return s, nil
}

// ZoneFence is a zone's fence as read before a listing: the fence records
// found at the fence name. Genesis is the permanent first record ("" when
// the zone has none yet); Stamps are the records a write replaces (one,
// or none before the first write; more only if they were made by hand).
type ZoneFence struct {
	Name    string // the fence record's name, e.g. _goavail.example.com
	Genesis Record
	Stamps  []Record
}

// Latest is the newest stamp of the fence, if it has one that parses.
func (f ZoneFence) Latest() (FenceStamp, bool) {
	var best FenceStamp
	found := false
	for _, r := range f.Stamps {
		if s, err := ParseFenceStamp(r.Content); err == nil && (!found || s.At.After(best.At)) {
			best, found = s, true
		}
	}
	return best, found
}

// ID names the fence's state: the ids of its stamp records.
func (f ZoneFence) ID() string {
	ids := make([]string, 0, len(f.Stamps))
	for _, r := range f.Stamps {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

// SplitFence sorts the records found at a fence name into the genesis
// record and the stamps. Records at that name that are not goavail's are
// left out: the fence never deletes them.
func SplitFence(name string, recs []Record) ZoneFence {
	f := ZoneFence{Name: name}
	for _, r := range recs {
		c := strings.Trim(r.Content, `"`)
		switch {
		case r.Type != "TXT" || r.Name != name:
		case c == GenesisContent:
			if f.Genesis.ID == "" {
				f.Genesis = r
			}
		case strings.HasPrefix(c, FencePrefix+" "):
			f.Stamps = append(f.Stamps, r)
		}
	}
	return f
}

// Fencer is the capability of a Provider that writes conditionally.
type Fencer interface {
	// FenceName is the fence record's name in zone.
	FenceName(zone string) string
	// ReadFence reads the zone's fence. The pass reads it before it lists
	// the records, so that any write after the read moves it.
	ReadFence(ctx context.Context, zone string) (ZoneFence, error)
	// ApplyFenced makes creates and deletes in one atomic write that also
	// replaces the fence f with a stamp, and creates the genesis record
	// when f has none. If f is no longer the zone's fence (or the genesis
	// exists already when f had none), nothing is applied and the error
	// is a *FenceMovedError. It returns the fence the write left, for the
	// next write of the same pass.
	ApplyFenced(ctx context.Context, zone string, f ZoneFence, stamp FenceStamp, creates, deletes []Record) (ZoneFence, error)
}

// FenceMovedError means a conditional write was refused because the zone
// changed after the listing it was planned on: nothing of it was applied.
// The pass lists the zone again and plans again.
type FenceMovedError struct{ Err error }

func (e *FenceMovedError) Error() string {
	return e.Err.Error() + ": the zone changed since it was listed (another write moved its fence); listing it again"
}
func (e *FenceMovedError) Unwrap() error { return e.Err }

// ForeignFence is a zone's fence last written by another deployment: two
// goavail deployments write the zone. This agent holds its own writes to
// the zone until the other's stamp has stood for a reconcile period, so
// that the two never undo each other faster than that.
type ForeignFence struct {
	Zone       string    `json:"zone"`
	Deployment string    `json:"deployment"`
	Writer     string    `json:"writer"`
	At         time.Time `json:"at"`      // the stamp's time, by its writer's clock
	Seen       time.Time `json:"seen"`    // when this agent first saw that stamp
	Holding    bool      `json:"holding"` // writes to the zone wait until HoldUntil
	HoldUntil  time.Time `json:"hold_until"`
}

// foreignSeen is what the Reconciler keeps of a zone's foreign stamp.
type foreignSeen struct {
	id   string // the fence's stamp ids
	seen time.Time
}

// foreignFence compares the zone's fence with this deployment: nil when
// this deployment wrote it last (or nobody did). Another deployment's
// stamp is logged when first seen, and holds writes to the zone for a
// reconcile period from then (measured on this agent's clock, so the two
// deployments' clocks need not agree).
func (r *Reconciler) foreignFence(zone string, zf ZoneFence, p ZonePlan) *ForeignFence {
	latest, ok := zf.Latest()
	mine := r.stamp().Deployment
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok || latest.Deployment == mine {
		delete(r.foreign, zone)
		return nil
	}
	now := r.cfg.Now()
	seen, known := r.foreign[zone]
	if !known || seen.id != zf.ID() {
		seen = foreignSeen{id: zf.ID(), seen: now}
		r.foreign[zone] = seen
		r.cfg.Log.Warn("another goavail deployment writes this zone: its fence names a deployment other than ours; our writes to the zone wait a reconcile period after each of its writes",
			"zone", zone, "fence", zf.Name, "deployment", latest.Deployment, "writer", latest.Writer, "written_at", latest.At, "ours", mine, "pending_changes", len(p.Creates)+len(p.Deletes))
	}
	until := seen.seen.Add(r.period)
	return &ForeignFence{Zone: zone, Deployment: latest.Deployment, Writer: latest.Writer, At: latest.At, Seen: seen.seen, Holding: now.Before(until), HoldUntil: until}
}
