package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/goavail/goavail/crypto"
	"github.com/goavail/goavail/monitor"
)

// Config wires a Cluster. With no Peers the agent runs alone: the same
// agreement rule applies to its own view, no network is opened, and it is
// always the writer.
type Config struct {
	NodeName      string   // unique in the cluster
	BindAddr      string   // listen address; "" means all
	AdvertiseAddr string   // address peers reach this agent at; "" picks one
	Port          int      // gossip port, UDP and TCP; 0 picks a free one
	Peers         []string // "host" or "host:port" (port defaults to Port)
	Keys          [][]byte // AES keys; the first sends, all are accepted
	Fingerprint   [crypto.FingerprintSize]byte
	Rules         Rules
	// ViewInterval is how often the view is sent even when nothing
	// changed (the header, and any changes the peer lacks), so a lost
	// message or a late joiner heals.
	ViewInterval time.Duration
	// MaxClockSkew bounds how far a message's timestamp may be from this
	// agent's clock. Default 30s.
	MaxClockSkew time.Duration
	// IncarnationFile keeps a counter that orders this agent's starts, so
	// a restart after its clock stepped back is not taken for a replay.
	// "": the start time orders them (and the peers accept a lower one
	// MaxClockSkew after the old incarnation's last message).
	IncarnationFile string
	// ConflictHold is how long a node name conflict reported by memberlist
	// keeps the agents of that name from voting and writing after its
	// latest report. Default 1m (memberlist re-reports at every push-pull).
	ConflictHold time.Duration
	// Local returns this agent's current view; it must be cheap and safe to
	// call from the cluster's goroutine.
	Local func() []monitor.Status
	// OnChange is called, from the cluster's goroutine, when an agreed state,
	// the preferred writer or this agent's writer lease changes. It must not
	// block.
	OnChange func(Decision)
	Log      *slog.Logger
	// Now is the wall clock (message timestamps, the start time); Mono the
	// clock leases are measured on, which must not step and must count
	// through a system suspend. Now defaults to time.Now, Mono to
	// CLOCK_BOOTTIME on Linux (see bootClock).
	Now, Mono func() time.Time

	tune        func(*memberlist.Config) // tests shorten memberlist's timers
	rejoinEvery time.Duration            // tests: how often missing peers are re-joined
	anyVoter    bool                     // tests: every member votes, as if each agent listed all the others
	losePacket  func(peer string) bool   // tests: a view packet to peer is lost (memberlist's own pass)
}

// Reasons a peer message is dropped, as counted by Dropped.
const (
	DropOverload     = "overload"
	DropOversized    = "oversized"
	DropTruncated    = "truncated"
	DropGarbage      = "garbage"
	DropWrongKey     = "wrong_key"
	DropWrongConfig  = "wrong_config"
	DropReplayed     = "replayed"
	DropReordered    = "reordered"
	DropClockSkew    = "clock_skew"
	DropMalformed    = "malformed_view"
	DropSelf         = "own_name"
	DropTooManyPeers = "too_many_senders"
)

// DefaultConflictHold is ConflictHold when none is set.
const DefaultConflictHold = time.Minute

const (
	inboxSize       = 256
	dropLogEvery    = 10 * time.Second
	defaultSkew     = 30 * time.Second
	tcpTimeout      = 3 * time.Second
	leaveTimeout    = time.Second
	joinRetryMin    = time.Second
	joinRetryMax    = 30 * time.Second
	joinCheckEvery  = 10 * time.Second
	deadNodeReclaim = 10 * time.Second
)

// Cluster gossips this agent's view, collects the peers' and runs the
// agreement rule and the writer lease. Run drives it; the other methods are
// safe to call from any goroutine.
type Cluster struct {
	cfg       Config
	ml        *memberlist.Memberlist
	sealer    *crypto.Sealer
	guard     *crypto.ReplayGuard
	agreement *Agreement
	inbox     chan []byte
	poke      chan struct{} // membership changed
	local     chan struct{} // this agent's view changed
	inc       uint64
	seq       uint64
	outboxes  map[string]chan struct{}
	out       deltaLog // the staged view, for deltas
	senders   sync.WaitGroup
	crashed   atomic.Bool // tests: memberlist was shut down under Run, as in a crash
	// rounds counts agreement rounds run, each counted with c.mu held as
	// its decision is stored: a test waits on it for "a round ran with
	// what I just gave it" instead of sleeping.
	rounds atomic.Uint64

	mu        sync.Mutex
	members   map[string]memberlist.Node // live, this agent included; kept by events
	peers     map[string]*peerEntry
	echoes    map[string]Echo // the latest position of each peer's view
	elector   *Elector        // nil when alone
	lease     Lease           // as last reported
	conflicts map[string]conflict
	decision  Decision
	annex     []byte // sent in every view; see SetAnnex
	dropped   map[string]uint64
	dropLog   map[string]time.Time // reason -> last logged
	// electorate is the configured peers' addresses: only agents there
	// vote and endorse (see electorate.go). addrOf is where each member
	// was last seen.
	electorate map[string]bool
	addrOf     map[string]string
	warned     map[string]bool
	blackout   time.Duration // after the start: see startBlackout
	// onLease, nil in production, lets tests record every lease grant
	// rather than sample Lease: it is called with c.mu held each time this
	// agent finds that it holds the writer lease, with the Mono time now,
	// from which it may write until l.Until. It must not block.
	onLease func(l Lease, now time.Time)
}

// New checks cfg and, in cluster mode, starts memberlist listening. Call
// Run to join the peers and take part.
func New(cfg Config) (*Cluster, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Mono == nil {
		cfg.Mono = bootClock
	}
	if cfg.MaxClockSkew <= 0 {
		cfg.MaxClockSkew = defaultSkew
	}
	if cfg.ConflictHold <= 0 {
		cfg.ConflictHold = DefaultConflictHold
	}
	if cfg.rejoinEvery <= 0 {
		cfg.rejoinEvery = joinCheckEvery
	}
	if cfg.ViewInterval <= 0 {
		return nil, errors.New("view interval must be positive")
	}
	if cfg.NodeName == "" {
		return nil, errors.New("node name is empty")
	}
	c := &Cluster{
		cfg: cfg, agreement: NewAgreement(cfg.Rules), guard: crypto.NewReplayGuard(cfg.MaxClockSkew),
		inbox: make(chan []byte, inboxSize), poke: make(chan struct{}, 1), local: make(chan struct{}, 1),
		outboxes: map[string]chan struct{}{}, members: map[string]memberlist.Node{}, peers: map[string]*peerEntry{},
		echoes: map[string]Echo{}, conflicts: map[string]conflict{}, dropped: map[string]uint64{}, dropLog: map[string]time.Time{},
		electorate: map[string]bool{}, addrOf: map[string]string{}, warned: map[string]bool{},
	}
	if len(cfg.Peers) == 0 {
		c.inc = uint64(cfg.Now().UnixNano())
		return c, nil
	}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("cluster mode needs a crypto_key: goavail keygen makes one")
	}
	if m := MinLease(cfg.ViewInterval); cfg.Rules.StaleAfter < m {
		return nil, fmt.Errorf("view_stale_after %s is too short to write with view_interval %s: the writer lease it sets would never leave time for a request; use at least %s", cfg.Rules.StaleAfter, cfg.ViewInterval, m)
	}
	var err error
	if c.inc, err = nextIncarnation(cfg.IncarnationFile, cfg.Now()); err != nil {
		return nil, err
	}
	c.refreshElectorate(context.Background())
	// The lease is as long as a view stays fresh: fixed for this start,
	// since every agent's promises are measured with it.
	c.elector = NewElector(cfg.NodeName, c.inc, cfg.Rules.MinPeersAgree+1, cfg.Rules.StaleAfter, cfg.Mono())
	if c.blackout, err = startBlackout(cfg.IncarnationFile, cfg.Rules.StaleAfter); err != nil {
		return nil, err
	}
	c.elector.SetBlackout(c.blackout)
	if c.sealer, err = crypto.NewSealer(cfg.Keys); err != nil {
		return nil, fmt.Errorf("crypto_key: %w", err)
	}
	ring, err := memberlist.NewKeyring(cfg.Keys, cfg.Keys[0])
	if err != nil {
		return nil, fmt.Errorf("crypto_key: %w", err)
	}
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.NodeName
	mc.BindAddr, mc.BindPort = cmpOr(cfg.BindAddr, "0.0.0.0"), cfg.Port
	mc.AdvertiseAddr, mc.AdvertisePort = cfg.AdvertiseAddr, cfg.Port
	mc.Keyring = ring
	mc.Delegate, mc.Events, mc.Conflict = (*delegate)(c), (*events)(c), (*events)(c)
	mc.TCPTimeout = tcpTimeout
	// An agent restarted on a new address (a cloud VM, say) may take its name
	// back once the old one has been dead this long.
	mc.DeadNodeReclaimTime = deadNodeReclaim
	// Views are sealed (random to a compressor) and memberlist's LZW would
	// only make them longer.
	mc.EnableCompression = false
	mc.LogOutput = logWriter{c}
	if cfg.tune != nil {
		cfg.tune(mc)
	}
	if c.ml, err = memberlist.Create(mc); err != nil {
		return nil, fmt.Errorf("start cluster listener on Members.bind_addr %s port %d: %w (if this address is not on this host, e.g. an elastic IP or NAT, set bind_addr = \"0.0.0.0\" and keep local_addr as the address peers reach)", mc.BindAddr, cfg.Port, err)
	}
	return c, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// SetConfig applies a reloaded configuration's fingerprint, rules and view
// interval; agreed states are kept. Membership settings (peers, keys,
// addresses, name) and the lease length (view_stale_after, as the lease)
// need a restart.
func (c *Cluster) SetConfig(fp [crypto.FingerprintSize]byte, r Rules, viewInterval time.Duration) {
	c.mu.Lock()
	c.cfg.Fingerprint, c.cfg.Rules = fp, r
	if viewInterval > 0 {
		c.cfg.ViewInterval = viewInterval
	}
	c.agreement.SetRules(r)
	c.mu.Unlock()
	c.LocalChanged()
}

// settings returns the reloadable settings.
func (c *Cluster) settings() ([crypto.FingerprintSize]byte, Rules, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.Fingerprint, c.cfg.Rules, c.cfg.ViewInterval
}

// SetAnnex sets the opaque state sent with this agent's every view from
// now on (see View.Annex), and sends it at once. b is not copied: the caller
// must not change it afterwards.
func (c *Cluster) SetAnnex(b []byte) {
	c.mu.Lock()
	c.annex = b
	c.mu.Unlock()
	c.LocalChanged()
}

func (c *Cluster) localAnnex() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.annex
}

// LocalChanged tells the cluster this agent's view changed: it is sent at
// once and agreement runs again. It never blocks.
func (c *Cluster) LocalChanged() { signal(c.local) }

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run takes part in the cluster until ctx ends, then leaves it. It
// returns nil on a clean stop.
func (c *Cluster) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if c.ml != nil {
		wg.Add(1)
		go func() { defer wg.Done(); c.joinLoop(ctx) }()
	}
	_, _, every := c.settings()
	tick := time.NewTicker(every)
	defer tick.Stop()
	// Each event takes one snapshot of this agent's view, for both the
	// broadcast and the agreement round.
	round := func() {
		mine := View{Entries: c.cfg.Local(), Annex: c.localAnnex()}
		c.broadcast(mine)
		if !c.out.deferDecide(c.local) { // delta.go
			c.decide(mine)
		}
	}
	// Rounds asked for by local changes are paced by their own cost: the
	// next waits as long as the last took (at most a send gap, which no
	// message to a peer beats anyway), and then runs once for every change
	// meanwhile. At 100,000 targets a round takes tens of milliseconds, and
	// a start or a mass event asks for one per transition: back to back
	// they held a core and most of the agent's memory. A small view's
	// round takes microseconds, so the pause costs it nothing.
	var paceUntil time.Time
	pace := time.NewTimer(time.Hour)
	pace.Stop()
	defer pace.Stop()
	localRound := func() {
		if wait := time.Until(paceUntil); wait > 0 {
			pace.Reset(wait)
			return
		}
		start := time.Now()
		round()
		paceUntil = time.Now().Add(min(time.Since(start), sendGap))
	}
	round()
	saved := c.afterBlackout()
	defer saved.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return c.stop()
		case msg := <-c.inbox:
			if c.receiveQueued(msg) && !c.out.deferDecide(c.local) { // delta.go
				c.decide(View{Entries: c.cfg.Local()})
			}
		case <-c.local:
			localRound()
		case <-pace.C:
			localRound()
		case <-c.poke:
			round() // a joiner gets our view now, not at the next tick
		case <-tick.C:
			if _, _, d := c.settings(); d != every {
				every = d
				tick.Reset(every)
			}
			round()
		}
	}
}

func (c *Cluster) stop() error {
	if c.ml == nil {
		return nil
	}
	for name, ob := range c.outboxes {
		close(ob)
		delete(c.outboxes, name)
	}
	c.senders.Wait()
	if c.crashed.Load() {
		return nil
	}
	if err := c.ml.Leave(leaveTimeout); err != nil {
		c.cfg.Log.Warn("leaving the cluster", "err", err)
	}
	if err := c.ml.Shutdown(); err != nil {
		return fmt.Errorf("stop cluster listener: %w", err)
	}
	return nil
}
