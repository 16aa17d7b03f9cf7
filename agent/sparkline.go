package agent

import (
	"fmt"
	"html/template"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// sparkMinutes is how many one-minute buckets each address keeps for the
// status page's sparklines: the last hour, 12 bytes a bucket (7 MB at
// 10,000 addresses).
const sparkMinutes = 60

// sparkBucket is one minute of an address's probes.
type sparkBucket struct {
	minute    int32   // minutes since the Unix epoch; 0: empty
	ok, total uint16  // probes answered, sent
	rttMS     float32 // sum of the answered probes' RTTs, ms
}

// sparks keeps, per address, the last hour of probe results in one-minute
// buckets: availability and round-trip time, drawn on the status page.
type sparks struct {
	mu  sync.Mutex
	per map[netip.Addr]*[sparkMinutes]sparkBucket
}

func newSparks() *sparks { return &sparks{per: map[netip.Addr]*[sparkMinutes]sparkBucket{}} }

// observe counts one probe result (any check's).
func (s *sparks) observe(a netip.Addr, ok bool, rtt time.Duration, at time.Time) {
	m := int32(at.Unix() / 60)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.per[a]
	if r == nil {
		r = new([sparkMinutes]sparkBucket)
		s.per[a] = r
	}
	b := &r[int(m)%sparkMinutes]
	if b.minute != m {
		*b = sparkBucket{minute: m}
	}
	if b.total < 1<<16-1 {
		b.total++
		if ok {
			b.ok++
			b.rttMS += float32(rtt.Seconds() * 1000)
		}
	}
}

// forget drops addresses no longer watched.
func (s *sparks) forget(keep map[netip.Addr]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for a := range s.per {
		if !keep[a] {
			delete(s.per, a)
		}
	}
}

// hour returns a's buckets for the hour ending at now, oldest first.
func (s *sparks) hour(a netip.Addr, now time.Time) (out [sparkMinutes]sparkBucket) {
	m := int32(now.Unix() / 60)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.per[a]
	if r == nil {
		return out
	}
	for i := range sparkMinutes {
		want := m - int32(sparkMinutes-1-i)
		if b := r[int(want)%sparkMinutes]; b.minute == want {
			out[i] = b
		}
	}
	return out
}

// sparkSVG draws an hour as a small inline SVG: one bar a minute, green
// when every probe answered, red when none did, amber between, grey
// without probes; and the mean round-trip time as a line over it.
func sparkSVG(h [sparkMinutes]sparkBucket) template.HTML {
	const w, ht = 2 * sparkMinutes, 24
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="availability and round-trip time, last hour">`, w, ht, w, ht)
	maxRTT := float32(0)
	for _, k := range h {
		if k.ok > 0 && k.rttMS/float32(k.ok) > maxRTT {
			maxRTT = k.rttMS / float32(k.ok)
		}
	}
	var pts []string
	color := func(k sparkBucket) string {
		switch {
		case k.total == 0:
			return "#ccc"
		case k.ok == k.total:
			return "#3a3"
		case k.ok == 0:
			return "#d33"
		}
		return "#e90"
	}
	for i := 0; i < len(h); { // one bar per run of minutes of one colour
		j := i + 1
		for j < len(h) && color(h[j]) == color(h[i]) {
			j++
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="4" fill="%s"/>`, 2*i, ht-4, 2*(j-i), color(h[i]))
		i = j
	}
	for i, k := range h {
		if k.ok > 0 && maxRTT > 0 {
			y := float32(ht-6) - (k.rttMS/float32(k.ok))/maxRTT*float32(ht-8)
			pts = append(pts, fmt.Sprintf("%d,%.0f", 2*i+1, y))
		}
	}
	if len(pts) > 1 {
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#36c" stroke-width="1"/>`, strings.Join(pts, " "))
	}
	if maxRTT > 0 {
		fmt.Fprintf(&b, `<title>max mean RTT %.1f ms a minute</title>`, maxRTT)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
