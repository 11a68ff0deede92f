package testenv

import (
	"sync"
	"testing"
	"time"

	"github.com/credchain/credchain/resolver"
)

// Events records a resolver's events (pass Add as resolver.Config.OnEvent)
// and lets a test wait for the next one of a kind instead of sleeping.
// Waits consume events in order; nothing is dropped.
type Events struct {
	mu      sync.Mutex
	events  []resolver.Event
	next    int
	changed chan struct{}
}

// NewEvents returns an empty log.
func NewEvents() *Events { return &Events{changed: make(chan struct{})} }

// Add records ev; it never blocks.
func (l *Events) Add(ev resolver.Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// All returns every event recorded so far.
func (l *Events) All() []resolver.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]resolver.Event(nil), l.events...)
}

// Wait returns the next event of kind, failing the test after 30 seconds.
func (l *Events) Wait(t testing.TB, kind resolver.EventKind) resolver.Event {
	t.Helper()
	return l.WaitWithin(t, kind, 30*time.Second)
}

// WaitWithin returns the next event of kind, failing the test after d.
func (l *Events) WaitWithin(t testing.TB, kind resolver.EventKind, d time.Duration) resolver.Event {
	t.Helper()
	deadline := time.After(d)
	for {
		l.mu.Lock()
		for l.next < len(l.events) {
			ev := l.events[l.next]
			l.next++
			if ev.Kind == kind {
				l.mu.Unlock()
				return ev
			}
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %s event within %v; events so far: %+v", kind, d, l.All())
		}
	}
}
