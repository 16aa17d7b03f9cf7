package monitor

import (
	"container/heap"
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// Job is one check of one address for the Checker.
type Job struct {
	Addr  netip.Addr
	Check *Check // shared by every address the check applies to
}

// CheckResult is one probe outcome of a non-ICMP check.
type CheckResult struct {
	Check   *Check
	Result  Result // Err holds the reason when the probe failed
	Warning string // the probe passed but is close to failing
}

// checkMinSleep is the scheduler's coarsest granularity: probes due within
// it start together.
const checkMinSleep = 2 * time.Millisecond

// lateBy is how much later than its timeout a failed probe may end and
// still count (see probe).
const lateBy = 500 * time.Millisecond

// DefaultMaxInFlight bounds the probes a Checker runs at once.
const DefaultMaxInFlight = 2048

// Checker runs the TCP and HTTP(S) checks. One scheduler spreads each
// check's probes evenly over its interval (as the ICMP Engine does) and
// starts each probe on a goroutine that lives only as long as the probe;
// at most MaxInFlight run at once, and none lives between probes. A probe
// still running when its next one is due (only when MaxInFlight is
// saturated) skips that turn rather than piling up. A failed probe that
// ends far past its timeout is dropped, not counted: the agent was paused.
type Checker struct {
	log      *slog.Logger
	onResult func(CheckResult)
	sem      chan struct{}
	wake     chan struct{}
	wg       sync.WaitGroup

	mu      sync.Mutex
	jobs    jobHeap
	index   map[jobKey]*job
	probers map[*Check]Prober
	skipped uint64
	late    uint64
	// newProber makes a check's prober (NewProber; tests script it).
	newProber func(*Check) Prober
}

type jobKey struct {
	addr netip.Addr
	key  string
}

type job struct {
	Job
	prober  Prober
	next    time.Time
	running bool
	pos     int // in the heap
}

// NewChecker returns a Checker with no jobs. onResult receives every
// outcome from the probe goroutines and must not block.
func NewChecker(maxInFlight int, log *slog.Logger, onResult func(CheckResult)) *Checker {
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	return &Checker{log: log, onResult: onResult, sem: make(chan struct{}, maxInFlight), wake: make(chan struct{}, 1),
		index: map[jobKey]*job{}, probers: map[*Check]Prober{}, newProber: NewProber}
}

// SetJobs replaces the checks to run. A job that stays (same address and
// check Key) keeps its place in the schedule; new ones are spread evenly
// over their interval from now.
func (c *Checker) SetJobs(jobs []Job) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	probers := map[*Check]Prober{}
	index := make(map[jobKey]*job, len(jobs))
	perInterval := map[time.Duration]int{}
	for _, j := range jobs {
		perInterval[j.Check.Interval]++
	}
	seen := map[time.Duration]int{}
	c.jobs = c.jobs[:0]
	for _, j := range jobs {
		p, ok := probers[j.Check]
		if !ok {
			p = c.newProber(j.Check)
			probers[j.Check] = p
		}
		k := jobKey{j.Addr, j.Check.Key}
		old := c.index[k]
		nj := &job{Job: j, prober: p}
		iv := j.Check.Interval
		switch {
		case old != nil && old.Check.Interval == iv:
			nj.next, nj.running = old.next, old.running
		default:
			nj.next = now.Add(time.Duration(int64(iv) * int64(seen[iv]) / int64(perInterval[iv])))
		}
		seen[iv]++
		if old != nil {
			nj.running = old.running
		}
		index[k] = nj
		c.jobs = append(c.jobs, nj)
	}
	heap.Init(&c.jobs)
	c.index, c.probers = index, probers
	c.kick()
}

func (c *Checker) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Skipped returns how many probes were skipped because the previous probe
// of the same check and address was still running.
func (c *Checker) Skipped() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.skipped
}

// Late returns how many failed probes were dropped because they ended far
// past their timeout: the agent, not the target, was stalled.
func (c *Checker) Late() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.late
}

// Run schedules probes until ctx is done, then waits for the running ones
// (each bounded by its timeout) and returns nil.
func (c *Checker) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	defer c.wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-c.wake:
		}
		now := time.Now()
		sleep := time.Hour
		c.mu.Lock()
		for len(c.jobs) > 0 {
			j := c.jobs[0]
			if j.next.After(now) {
				sleep = j.next.Sub(now)
				break
			}
			if !j.running {
				select {
				case c.sem <- struct{}{}:
				default: // saturated: a finishing probe wakes us
					sleep = time.Hour
					goto unlock
				}
				j.running = true
				c.wg.Add(1)
				go c.probe(ctx, j)
			} else {
				c.skipped++
			}
			j.next = j.next.Add(j.Check.Interval)
			if j.next.Before(now) { // fell far behind: keep the phase, skip whole intervals
				j.next = j.next.Add((now.Sub(j.next)/j.Check.Interval + 1) * j.Check.Interval)
			}
			heap.Fix(&c.jobs, 0)
		}
	unlock:
		c.mu.Unlock()
		timer.Reset(max(sleep, checkMinSleep))
	}
}

// probe runs one probe and reports it.
func (c *Checker) probe(ctx context.Context, j *job) {
	defer c.wg.Done()
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, j.Check.Timeout)
	out := j.prober.Probe(pctx, j.Addr)
	cancel()
	stopped := ctx.Err() != nil
	c.mu.Lock()
	j.running = false
	if nj := c.index[jobKey{j.Addr, j.Check.Key}]; nj != nil && nj != j {
		nj.running = false // the job was replaced by a reload while this ran
	}
	c.mu.Unlock()
	<-c.sem
	c.kick()
	if stopped {
		return // a probe cut short by shutdown says nothing about the target
	}
	if took := time.Since(start); !out.OK && took > j.Check.Timeout+max(j.Check.Timeout/2, lateBy) {
		// Its timeout fired far too late: the agent was paused or starved
		// (SIGSTOP, a frozen VM), and the target may well have answered.
		c.mu.Lock()
		c.late++
		c.mu.Unlock()
		return
	}
	r := Result{Addr: j.Addr, At: time.Now(), OK: out.OK, RTT: out.Took, Err: out.Reason, Sent: start}
	if !out.OK && r.Err == "" {
		r.Err = "failed"
	}
	c.onResult(CheckResult{Check: j.Check, Result: r, Warning: out.Warning})
}

// jobHeap orders jobs by their next probe.
type jobHeap []*job

func (h jobHeap) Len() int           { return len(h) }
func (h jobHeap) Less(i, k int) bool { return h[i].next.Before(h[k].next) }
func (h jobHeap) Swap(i, k int)      { h[i], h[k] = h[k], h[i]; h[i].pos = i; h[k].pos = k }
func (h *jobHeap) Push(x any)        { j := x.(*job); j.pos = len(*h); *h = append(*h, j) }
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	*h = old[:len(old)-1]
	return j
}
