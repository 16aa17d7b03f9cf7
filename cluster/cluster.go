package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/goavail/goavail/crypto"
	"github.com/goavail/goavail/monitor"
)

// Config wires a Cluster. With no Peers the agent runs alone: the same
// agreement rule applies to its own view, and no network is opened.
type Config struct {
	NodeName      string   // unique in the cluster
	BindAddr      string   // listen address; "" means all
	AdvertiseAddr string   // address peers reach this agent at; "" picks one
	Port          int      // gossip port, UDP and TCP; 0 picks a free one
	Peers         []string // "host" or "host:port" (port defaults to Port)
	Keys          [][]byte // AES keys; the first sends, all are accepted
	Fingerprint   [crypto.FingerprintSize]byte
	Rules         Rules
	// ViewInterval is how often the whole view is sent even when nothing
	// changed, so a lost message or a late joiner heals.
	ViewInterval time.Duration
	// MaxClockSkew bounds how far a message's timestamp may be from this
	// agent's clock. Default 30s.
	MaxClockSkew time.Duration
	// Local returns this agent's current view; it must be cheap and safe to
	// call from the cluster's goroutine.
	Local func() []monitor.Status
	// OnChange is called, from the cluster's goroutine, when an agreed state
	// or the writer changes. It must not block.
	OnChange func(Decision)
	Log      *slog.Logger
	Now      func() time.Time // time.Now when nil

	tune        func(*memberlist.Config) // tests shorten memberlist's timers
	rejoinEvery time.Duration            // tests: how often missing peers are re-joined
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

type peerState struct {
	view     View
	states   map[netip.Addr]monitor.State
	received time.Time
}

// Cluster gossips this agent's view, collects the peers' and runs the
// agreement rule. Run drives it; the other methods are safe to call from any
// goroutine.
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
	outboxes  map[string]chan []byte
	senders   sync.WaitGroup
	crashed   atomic.Bool // tests: memberlist was shut down under Run, as in a crash

	mu       sync.Mutex
	members  map[string]memberlist.Node // live, this agent included; kept by events
	peers    map[string]*peerState
	decision Decision
	annex    []byte // sent in every view; see SetAnnex
	dropped  map[string]uint64
	dropLog  map[string]time.Time // reason -> last logged
}

// New checks cfg and, in cluster mode, starts memberlist listening. Call
// Run to join the peers and take part.
func New(cfg Config) (*Cluster, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxClockSkew <= 0 {
		cfg.MaxClockSkew = defaultSkew
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
		inc: uint64(cfg.Now().UnixNano()), outboxes: map[string]chan []byte{},
		members: map[string]memberlist.Node{}, peers: map[string]*peerState{}, dropped: map[string]uint64{}, dropLog: map[string]time.Time{},
	}
	if len(cfg.Peers) == 0 {
		return c, nil
	}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("cluster mode needs a crypto_key: goavail keygen makes one")
	}
	var err error
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
	mc.Delegate, mc.Events = (*delegate)(c), (*events)(c)
	mc.TCPTimeout = tcpTimeout
	// An agent restarted on a new address (a cloud VM, say) may take its name
	// back once the old one has been dead this long.
	mc.DeadNodeReclaimTime = deadNodeReclaim
	mc.LogOutput = logWriter{c}
	if cfg.tune != nil {
		cfg.tune(mc)
	}
	if c.ml, err = memberlist.Create(mc); err != nil {
		return nil, fmt.Errorf("start cluster listener on %s:%d: %w", mc.BindAddr, cfg.Port, err)
	}
	return c, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Addr is where this agent listens for gossip ("" when alone).
func (c *Cluster) Addr() string {
	if c.ml == nil {
		return ""
	}
	n := c.ml.LocalNode()
	return n.Addr.String() + ":" + strconv.Itoa(int(n.Port))
}

// SetConfig applies a reloaded configuration's fingerprint, rules and view
// interval; agreed states are kept. Membership settings (peers, keys,
// addresses, name) need a restart.
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

// Decision returns the latest agreement.
func (c *Cluster) Decision() Decision {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.decision
	d.States = maps.Clone(d.States)
	return d
}

// IsWriter reports whether this agent applies DNS changes, and names the
// writer. No agent writes without a quorum of voting agents: the name then
// says so.
func (c *Cluster) IsWriter() (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.decision
	if !d.Quorate {
		return false, fmt.Sprintf("none: %d of %d voting agents needed", len(d.Voters), c.cfg.Rules.MinPeersAgree+1)
	}
	return d.Writer == c.cfg.NodeName, d.Writer
}

// Dropped returns how many peer messages were dropped, by reason.
func (c *Cluster) Dropped() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.dropped)
}

// Members returns the names of the live members, this agent included.
func (c *Cluster) Members() []string {
	if c.ml == nil {
		return []string{c.cfg.NodeName}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.members))
}

// member returns a copy of a live member, if it is one.
func (c *Cluster) member(name string) (memberlist.Node, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.members[name]
	return n, ok
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
		c.decide(mine)
	}
	round()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return c.stop()
		case msg := <-c.inbox:
			if c.receive(msg) {
				c.decide(View{Entries: c.cfg.Local()})
			}
		case <-c.local:
			round()
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

// joinLoop joins the configured peers, retrying with backoff while none
// answers, and keeps re-joining any that are missing (a partition that
// healed, a peer that restarted).
func (c *Cluster) joinLoop(ctx context.Context) {
	wait := time.Duration(0)
	alone := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if c.ml.NumMembers() > len(c.cfg.Peers) {
			wait = c.cfg.rejoinEvery
			continue
		}
		n, err := c.ml.Join(c.peerAddrs())
		switch {
		case n > 0:
			if alone || wait != c.cfg.rejoinEvery {
				c.cfg.Log.Info("joined cluster", "reached", n, "members", c.Members())
			}
			alone, wait = false, c.cfg.rejoinEvery
		default:
			if !alone {
				c.cfg.Log.Warn("no peer reachable; running alone and retrying", "peers", c.cfg.Peers, "err", err)
			}
			alone = true
			wait = min(max(2*wait, joinRetryMin), joinRetryMax)
		}
	}
}

func (c *Cluster) peerAddrs() []string {
	out := make([]string, len(c.cfg.Peers))
	for i, p := range c.cfg.Peers {
		out[i] = withPort(p, c.cfg.Port)
	}
	return out
}

// withPort adds the default port to a peer given without one.
func withPort(peer string, port int) string {
	if ap, err := netip.ParseAddrPort(peer); err == nil {
		return ap.String()
	}
	if a, err := netip.ParseAddr(peer); err == nil {
		return netip.AddrPortFrom(a, uint16(port)).String()
	}
	if _, p, err := splitHostPort(peer); err == nil && p != "" {
		return peer
	}
	return peer + ":" + strconv.Itoa(port)
}

// broadcast seals this agent's view and queues it for every live peer.
func (c *Cluster) broadcast(mine View) {
	if c.ml == nil {
		return
	}
	payload, err := mine.MarshalBinary()
	if err != nil {
		c.cfg.Log.Error("encode view", "err", err)
		return
	}
	c.seq++
	fp, _, _ := c.settings()
	msg, err := c.sealer.Seal(crypto.Envelope{Sender: c.cfg.NodeName, Incarnation: c.inc, Seq: c.seq, Time: c.cfg.Now(), Fingerprint: fp, Payload: payload})
	if err != nil {
		c.cfg.Log.Error("seal view", "err", err)
		return
	}
	live := map[string]bool{}
	for _, name := range c.Members() {
		if name == c.cfg.NodeName {
			continue
		}
		live[name] = true
		ob, ok := c.outboxes[name]
		if !ok {
			ob = make(chan []byte, 1)
			c.outboxes[name] = ob
			c.senders.Add(1)
			go c.send(name, ob)
		}
		select { // latest wins: a queued older view is replaced
		case <-ob:
		default:
		}
		ob <- msg
	}
	for name, ob := range c.outboxes {
		if !live[name] {
			close(ob)
			delete(c.outboxes, name)
		}
	}
}

// send delivers queued views to one peer over memberlist's encrypted TCP
// stream, so a slow or unreachable peer delays no one else.
func (c *Cluster) send(name string, ob chan []byte) {
	defer c.senders.Done()
	for msg := range ob {
		node, ok := c.member(name)
		if !ok {
			continue
		}
		if err := c.ml.SendReliable(&node, msg); err != nil {
			c.cfg.Log.Debug("send view", "peer", name, "err", err)
		}
	}
}

// receive checks one peer message and stores its view. It reports whether
// a view was stored.
func (c *Cluster) receive(msg []byte) bool {
	now := c.cfg.Now()
	e, reason, err := c.open(msg, now)
	if err != nil {
		c.drop(reason, err, now)
		return false
	}
	v, err := DecodeView(e.Payload)
	if err != nil {
		c.drop(DropMalformed, fmt.Errorf("view from %s: %w", e.Sender, err), now)
		return false
	}
	c.mu.Lock()
	c.peers[e.Sender] = &peerState{view: v, states: v.States(), received: now}
	c.mu.Unlock()
	return true
}

func (c *Cluster) open(msg []byte, now time.Time) (crypto.Envelope, string, error) {
	fp, _, _ := c.settings()
	e, err := c.sealer.Open(msg)
	switch {
	case errors.Is(err, crypto.ErrTooLarge):
		return e, DropOversized, err
	case errors.Is(err, crypto.ErrTruncated):
		return e, DropTruncated, err
	case errors.Is(err, crypto.ErrAuth):
		return e, DropWrongKey, err
	case err != nil:
		return e, DropGarbage, err
	case e.Sender == c.cfg.NodeName:
		return e, DropSelf, fmt.Errorf("a message claims this agent's own name %q: node names must be unique", e.Sender)
	case e.Fingerprint != fp:
		return e, DropWrongConfig, fmt.Errorf("agent %s watches a different set of addresses or hostnames (config fingerprint %x, ours %x); its views are ignored until the configurations match", e.Sender, e.Fingerprint, fp)
	}
	if err := c.guard.Check(e, now); err != nil {
		switch {
		case errors.Is(err, crypto.ErrReordered):
			return e, DropReordered, err
		case errors.Is(err, crypto.ErrReplay):
			return e, DropReplayed, err
		case errors.Is(err, crypto.ErrClockSkew):
			return e, DropClockSkew, err
		}
		return e, DropTooManyPeers, err
	}
	return e, "", nil
}

// drop counts a rejected message and logs it, at most once per reason
// every dropLogEvery.
func (c *Cluster) drop(reason string, err error, now time.Time) {
	c.mu.Lock()
	c.dropped[reason]++
	total := c.dropped[reason]
	last, logged := c.dropLog[reason]
	due := !logged || now.Sub(last) >= dropLogEvery
	if due {
		c.dropLog[reason] = now
	}
	c.mu.Unlock()
	level := slog.LevelWarn
	if reason == DropReordered { // benign: the newer view is already here
		level = slog.LevelDebug
	}
	if due {
		c.cfg.Log.Log(context.Background(), level, "dropped peer message", "reason", reason, "total", total, "err", err)
	}
}

// decide runs the agreement rule on this agent's view and the peers', and
// reports a change.
func (c *Cluster) decide(mine View) {
	now := c.cfg.Now()
	self := PeerView{Node: c.cfg.NodeName, States: mine.States(), Failing: mine.Failing()}
	c.mu.Lock()
	rules := c.cfg.Rules
	var peers []PeerView
	for name, p := range c.peers {
		_, alive := c.members[name]
		if !alive && now.Sub(p.received) > 10*rules.StaleAfter {
			delete(c.peers, name) // long gone: forget
			continue
		}
		peers = append(peers, PeerView{Node: name, Alive: alive, Received: p.received, States: p.states, Failing: p.view.Failing()})
	}
	prev := c.decision
	d := c.agreement.Decide(now, self, peers)
	c.decision = d
	c.mu.Unlock()

	if prev.Writer != d.Writer || prev.Quorate != d.Quorate {
		writer := d.Writer // as IsWriter, /status and /metrics say it: no writer without a quorum
		if !d.Quorate {
			writer = "none"
		}
		c.cfg.Log.Info("dns writer", "writer", writer, "this_agent", d.Quorate && d.Writer == c.cfg.NodeName, "quorate", d.Quorate, "voters", d.Voters)
	}
	if d.LocalIsolated && !prev.LocalIsolated {
		down := 0
		for _, st := range self.States {
			if st == monitor.Down {
				down++
			}
		}
		c.cfg.Log.Warn("this agent sees nearly every address down or losing its latest probes, and abstains: its uplink is the likelier fault",
			"down", down, "failing", self.Failing, "watched", len(self.States), "threshold", rules.IsolationThreshold)
	}
	for _, a := range d.Changed {
		c.cfg.Log.Info("agreed", "addr", a, "from", prev.States[a], "to", d.States[a], "voters", d.Voters, "need", rules.MinPeersAgree+1)
	}
	if !d.Quorate && (prev.Quorate || prev.Writer == "") && !(d.LocalIsolated && len(peers) == 0) { // alone and isolated: the line above says it
		c.cfg.Log.Warn("too few voting agents to change anything; no agent writes DNS from here", "voting", d.Voters, "need", rules.MinPeersAgree+1, "stale", d.Stale, "dead", d.Dead, "abstaining", d.Abstaining, "this_agent_abstains", d.LocalIsolated)
	}
	if (len(d.Changed) > 0 || prev.Writer != d.Writer || prev.Quorate != d.Quorate) && c.cfg.OnChange != nil {
		c.cfg.OnChange(d)
	}
}

// PeerViews returns the latest view of every peer, by node name.
func (c *Cluster) PeerViews() map[string]View {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]View, len(c.peers))
	for n, p := range c.peers {
		out[n] = p.view
	}
	return out
}
