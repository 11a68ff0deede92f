package testenv

import (
	"sort"
	"sync"
	"time"

	"github.com/credchain/credchain/resolver"
)

// FakeClock is a resolver.Clock that moves only when told. Advance runs
// every timer that falls due, in order. Set steps the wall clock, as an
// adjusted clock or a machine waking from sleep does: it runs the wall-clock
// timers (At) that are now due, but no monotonic timer (AfterFunc).
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *FakeClock
	at      time.Time
	f       func()
	wall    bool
	stopped bool
}

// NewFakeClock starts at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t} }

// Now implements resolver.Clock.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc implements resolver.Clock.
func (c *FakeClock) AfterFunc(d time.Duration, f func()) resolver.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// At implements resolver.Clock.
func (c *FakeClock) At(at time.Time, f func()) resolver.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: at, f: f, wall: true}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Advance moves the clock by d and runs, synchronously and in order, every
// timer due by then.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	c.runDue(target, false)
}

// Set steps the wall clock to t and runs the wall-clock timers due by then.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
	c.runDue(t, true)
}

func (c *FakeClock) runDue(target time.Time, wallOnly bool) {
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		var due *fakeTimer
		for i, t := range c.timers {
			if t.stopped || (wallOnly && !t.wall) {
				continue
			}
			if !t.at.After(target) {
				due = t
				c.timers = append(c.timers[:i:i], c.timers[i+1:]...)
				if !wallOnly && t.at.After(c.now) {
					c.now = t.at
				}
			}
			break
		}
		if due == nil {
			if !wallOnly {
				c.now = target
			}
			c.mu.Unlock()
			return
		}
		due.stopped = true
		c.mu.Unlock()
		due.f()
	}
}

// Pending reports how many timers are armed and not stopped.
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}
