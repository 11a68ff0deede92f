package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// A Config that leaves RetryMin and RetryMax zero gets the documented
// defaults (1 s, 1 min): the first retry of a failed refresh is about a
// second away (±20% jitter), not immediate.
func TestZeroRetryBoundsGetTheDefaults(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	src, failing := flakySource(clock, time.Hour, errors.New("token endpoint answered 503"))
	events := testenv.NewEvents()
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock, OnEvent: events.Add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	mustResolve(t, r)
	events.Wait(t, resolver.EventRefreshed)
	failing.Store(true)
	clock.Set(t0.Add(55*time.Minute + time.Second)) // stale: the background refresh fails
	ev := events.Wait(t, resolver.EventRefreshFailed)
	if gap := ev.NextRetry.Sub(clock.Now()); gap < 800*time.Millisecond || gap > 1200*time.Millisecond {
		t.Fatalf("first retry in %v, want the default RetryMin of 1 s ±20%%", gap)
	}
}

// A Config that leaves ErrorTTL zero gets the documented default (2 s): the
// error of a failed blocking fetch is still served, without calling the
// source, after the first backoff (at most 1.2 s) has passed.
func TestZeroErrorTTLGetsTheDefault(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	boom := errors.New("upstream down")
	src := &fakeSource{name: "s", fetch: func(context.Context, *resolver.Credential, int) (*resolver.Credential, error) {
		return nil, boom
	}}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock, RetryMin: time.Second, RetryMax: 8 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	if _, err := r.Resolve(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the source's error", err)
	}
	clock.Set(t0.Add(1500 * time.Millisecond))
	if _, err := r.Resolve(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the remembered error", err)
	}
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("fetches = %d 1.5 s after a failure, want 1 (the error is remembered for the default 2 s)", n)
	}
	clock.Set(t0.Add(2 * time.Second))
	_, _ = r.Resolve(context.Background())
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("fetches = %d once the default error TTL is over, want 2", n)
	}
}

// A permanent error of a background refresh is reported once: the re-checks
// of the store that follow (every RetryMax, without calling the source) send
// no further refresh_failed event.
func TestPermanentRefreshFailureIsReportedOnce(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	src, failing := flakySource(clock, time.Hour, fmt.Errorf("invalid_client: %w", resolver.ErrPermanent))
	src.persistent = true
	events := testenv.NewEvents()
	r := newResolver(t, clock, events, cache.NewMemory(), src)
	mustResolve(t, r)
	events.Wait(t, resolver.EventRefreshed)
	failing.Store(true)
	clock.Set(t0.Add(55*time.Minute + time.Second)) // stale: the refresh fails for good
	ev := events.Wait(t, resolver.EventRefreshFailed)
	if !errors.Is(ev.Err, resolver.ErrPermanent) {
		t.Fatalf("refresh_failed carries %v, want the permanent error", ev.Err)
	}
	clock.Advance(8 * time.Second)    // RetryMax: the store is re-checked
	if err := r.Close(); err != nil { // waits for the re-check
		t.Fatal(err)
	}
	n := 0
	for _, ev := range events.All() {
		if ev.Kind == resolver.EventRefreshFailed {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d refresh_failed events, want 1: a re-check reported the permanent error again", n)
	}
	if got := src.calls.Load(); got != 2 {
		t.Fatalf("source called %d times, want the initial fetch and the one that failed", got)
	}
}

// The jitter of the backoff stays within ±20% of the step, over many
// draws: with RetryMin = RetryMax every retry is 1 s × a fresh jitter, and
// none may fall outside [0.8 s, 1.2 s]. (A jitter applied the wrong way
// round, 1 s ÷ (0.8…1.2), reaches past 1.2 s in one draw out of twelve: 300
// draws miss it with a probability of about 5e-12.)
func TestBackoffJitterStaysWithinTwentyPercent(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	src, failing := flakySource(clock, 1000*time.Hour, errors.New("503"))
	events := testenv.NewEvents()
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock, OnEvent: events.Add, RetryMin: time.Second, RetryMax: time.Second, RefreshWindow: 100 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	mustResolve(t, r)
	failing.Store(true)
	clock.Set(t0.Add(950 * time.Hour)) // stale (RefreshWindow 100 h): the refreshes start failing
	for range 300 {
		ev := events.Wait(t, resolver.EventRefreshFailed)
		gap := ev.NextRetry.Sub(clock.Now())
		if gap < 800*time.Millisecond || gap > 1200*time.Millisecond {
			t.Fatalf("attempt %d: next retry in %v, want 1 s ±20%%", ev.Attempt, gap)
		}
		clock.Advance(gap)
	}
}
