package resolver_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// hookClock is a FakeClock whose next Now call first runs a hook: a test
// uses it to make something happen at an exact point of the scheduler's
// slow path (between reading the snapshot and reading the clock), where
// otherwise only a lucky interleaving would put it.
type hookClock struct {
	*testenv.FakeClock
	hook atomic.Pointer[func()]
}

func (c *hookClock) Now() time.Time {
	if f := c.hook.Swap(nil); f != nil {
		(*f)()
	}
	return c.FakeClock.Now()
}

// A caller that found no credential, but whose shared fetch finished before
// it took the entry's lock, is served that fetch's credential: it does not
// start a second fetch. The fetch is made to finish exactly inside that
// window: after the caller read the (empty) snapshot, before it read the
// clock.
func TestFetchFinishingBeforeTheLockIsNotRepeated(t *testing.T) {
	clock := &hookClock{FakeClock: testenv.NewFakeClock(t0)}
	entered := make(chan struct{})
	release := make(chan struct{})
	tok := tokenAt(clock.FakeClock, time.Hour)
	src := &fakeSource{name: "s", fetch: func(ctx context.Context, prev *resolver.Credential, n int) (*resolver.Credential, error) {
		if n == 1 {
			close(entered)
			<-release
		}
		return tok(ctx, prev, n)
	}}
	events := testenv.NewEvents()
	cfg := resolver.Config{Sources: []resolver.Source{src}, Clock: clock, OnEvent: events.Add, RetryMin: time.Second, RetryMax: 8 * time.Second}
	r, err := resolver.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })

	type result struct {
		cred *resolver.Credential
		err  error
	}
	first := make(chan result, 1)
	go func() {
		c, err := r.Resolve(context.Background())
		first <- result{c, err}
	}()
	<-entered // the first caller's fetch is under way (and holds no lock)
	fired := false
	hook := func() {
		fired = true
		close(release)
		events.Wait(t, resolver.EventRefreshed) // installed, and the call is over
	}
	clock.hook.Store(&hook)
	got := mustResolve(t, r)
	if !fired {
		t.Fatal("the scenario did not happen: the slow path read no clock")
	}
	res := <-first
	if res.err != nil {
		t.Fatalf("first caller: %v", res.err)
	}
	if got != res.cred {
		t.Error("the second caller did not get the credential the shared fetch installed")
	}
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1: a credential installed just before the lock was fetched again", n)
	}
}
