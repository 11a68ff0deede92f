package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// At the moment a credential turns stale, 10,000 concurrent callers all get
// the still-valid credential at once while exactly one refresh runs.
func TestStaleServesEveryoneWhileOneRefreshRuns(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	release := make(chan struct{})
	src := &fakeSource{name: "s"}
	first := tokenAt(clock, time.Hour)
	src.fetch = func(ctx context.Context, prev *resolver.Credential, n int) (*resolver.Credential, error) {
		if n > 1 {
			<-release
		}
		return first(ctx, prev, n)
	}
	events := testenv.NewEvents()
	r := newResolver(t, clock, events, nil, src)
	old := mustResolve(t, r)

	clock.Set(t0.Add(55*time.Minute + time.Second)) // inside the 5-minute window: the stale timer fires and starts the refresh
	const callers = 10000
	var wg sync.WaitGroup
	var wrong atomic.Int32
	for range callers {
		wg.Go(func() {
			c, err := r.Resolve(context.Background())
			if err != nil || c != old {
				wrong.Add(1)
			}
		})
	}
	wg.Wait() // every caller returned while the refresh is still blocked: none waited on it
	if n := wrong.Load(); n != 0 {
		t.Fatalf("%d callers did not get the stale credential at once", n)
	}
	if got := src.calls.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 1 initial + exactly 1 refresh", got)
	}
	close(release)
	events.Wait(t, resolver.EventRefreshed) // the initial fetch
	events.Wait(t, resolver.EventRefreshed)
	if c := mustResolve(t, r); c == old {
		t.Fatal("still serving the old credential after the refresh")
	}
	if got := src.calls.Load(); got != 2 {
		t.Fatalf("fetches = %d after refresh, want 2", got)
	}
}

// After expiry every waiter shares one fetch and its result.
func TestExpiredCallersShareOneFetch(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	src := &fakeSource{name: "s", fetch: tokenAt(clock, time.Hour)}
	r := newResolver(t, clock, nil, nil, src)
	mustResolve(t, r)
	clock.Set(t0.Add(2 * time.Hour))
	var wg sync.WaitGroup
	creds := make([]*resolver.Credential, 500)
	for i := range creds {
		wg.Go(func() { creds[i] = mustResolve(t, r) })
	}
	wg.Wait()
	if got := src.calls.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 2 (initial + one shared)", got)
	}
	for _, c := range creds {
		if c != creds[0] {
			t.Fatal("callers got different credentials from one shared fetch")
		}
	}
}

// The failure of a shared fetch goes to every waiter and is remembered
// briefly, so a failing upstream is not hammered.
func TestFailingFetchIsSharedAndRemembered(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	boom := errors.New("upstream down")
	src := &fakeSource{name: "s", fetch: func(context.Context, *resolver.Credential, int) (*resolver.Credential, error) {
		return nil, boom
	}}
	r := newResolver(t, clock, nil, nil, src)
	for range 50 {
		if _, err := r.Resolve(context.Background()); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want the source's error", err)
		}
	}
	if got := src.calls.Load(); got != 1 {
		t.Fatalf("fetches = %d within the error TTL, want 1", got)
	}
	clock.Set(t0.Add(3 * time.Second))
	_, _ = r.Resolve(context.Background())
	if got := src.calls.Load(); got != 2 {
		t.Fatalf("fetches = %d after the error TTL, want 2", got)
	}
}

// A failing refresh inside the window keeps the old credential served,
// retries with growing backoff, and shows the failure in events and status.
func TestFailedRefreshKeepsOldCredentialAndBacksOff(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	src, failing := flakySource(clock, time.Hour, errors.New("token endpoint answered 503"))
	events := testenv.NewEvents()
	r := newResolver(t, clock, events, nil, src)
	old := mustResolve(t, r)
	events.Wait(t, resolver.EventRefreshed)
	failing.Store(true)

	clock.Advance(55 * time.Minute) // the refresh timer fires
	ev := events.Wait(t, resolver.EventRefreshFailed)
	var gaps []time.Duration
	last := clock.Now()
	for range 4 {
		if c := mustResolve(t, r); c != old {
			t.Fatal("old credential not served while refreshes fail")
		}
		if ev.NextRetry.IsZero() {
			t.Fatal("failure event has no next retry time")
		}
		gaps = append(gaps, ev.NextRetry.Sub(last))
		last = ev.NextRetry
		clock.Advance(ev.NextRetry.Sub(clock.Now()))
		ev = events.Wait(t, resolver.EventRefreshFailed)
	}
	for i := 1; i < len(gaps); i++ {
		if gaps[i] <= gaps[i-1]*5/4 {
			t.Fatalf("backoff does not grow: %v", gaps)
		}
	}
	st := r.Status(context.Background())
	if st.Sources[0].LastError == "" || st.Sources[0].NextRetry == nil {
		t.Fatalf("status does not show the failing refresh: %+v", st.Sources[0])
	}
	failing.Store(false)
	clock.Advance(ev.NextRetry.Sub(clock.Now()))
	events.Wait(t, resolver.EventRefreshed)
	if c := mustResolve(t, r); c == old {
		t.Fatal("not recovered after the upstream came back")
	}
	if st := r.Status(context.Background()); st.Sources[0].LastError != "" {
		t.Fatalf("status still shows an error after recovery: %q", st.Sources[0].LastError)
	}
}

// A wall-clock jump past expiry (a suspended laptop waking up) never serves
// the expired credential, even though no timer has fired.
func TestClockJumpPastExpiryNeverServesExpired(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	src, failing := flakySource(clock, time.Hour, errors.New("offline"))
	r := newResolver(t, clock, nil, nil, src)
	old := mustResolve(t, r)
	failing.Store(true)
	clock.Set(t0.Add(time.Hour)) // exactly at expiry
	if c, err := r.Resolve(context.Background()); err == nil || c != nil {
		t.Fatalf("served %v at its expiry instant", c)
	}
	failing.Store(false)
	clock.Set(t0.Add(8 * time.Hour))
	c := mustResolve(t, r)
	if c == old || c.ExpiredAt(clock.Now()) {
		t.Fatalf("served an expired credential after the jump: %v", c)
	}
}

// One caller's deadline never cancels the shared fetch: the impatient caller
// gives up only once it is waiting on the fetch it started.
func TestCallerDeadlineDoesNotCancelSharedFetch(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	started := make(chan struct{})
	release := make(chan struct{})
	fetchCtxErr := make(chan error, 1)
	src := &fakeSource{name: "s"}
	inner := tokenAt(clock, time.Hour)
	src.fetch = func(ctx context.Context, prev *resolver.Credential, n int) (*resolver.Credential, error) {
		close(started)
		<-release
		fetchCtxErr <- ctx.Err()
		return inner(ctx, prev, n)
	}
	r := newResolver(t, clock, nil, nil, src)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := r.Resolve(ctx); done <- err }()
	<-started // the impatient caller's Resolve started the shared fetch
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("impatient caller got %v, want context.Canceled", err)
	}
	got := make(chan *resolver.Credential)
	go func() { got <- mustResolve(t, r) }()
	close(release)
	if c := <-got; c == nil {
		t.Fatal("patient caller got nothing")
	}
	if err := <-fetchCtxErr; err != nil {
		t.Fatalf("the shared fetch saw its context cancelled: %v", err)
	}
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
}

// The refresh timer is armed when a credential is stored and fires at
// expiry minus the window, or at half-life for short-lived credentials: just
// before that instant the credential is still fresh (the state the fake
// clock's timers set synchronously), at that instant it turns stale and one
// refresh runs.
func TestRefreshTimerTiming(t *testing.T) {
	for _, tc := range []struct {
		name      string
		life      time.Duration
		refreshAt time.Duration
	}{
		{"long-lived: window before expiry", time.Hour, 55 * time.Minute},
		{"shorter than twice the window: half-life", 8 * time.Minute, 4 * time.Minute},
		{"very short: half-life", 10 * time.Second, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testenv.NewFakeClock(t0)
			release := make(chan struct{})
			src := &fakeSource{name: "s"}
			inner := tokenAt(clock, tc.life)
			src.fetch = func(ctx context.Context, prev *resolver.Credential, n int) (*resolver.Credential, error) {
				if n > 1 {
					<-release // keep the refresh in flight so the stale state stays visible
				}
				return inner(ctx, prev, n)
			}
			events := testenv.NewEvents()
			r := newResolver(t, clock, events, nil, src)
			var once sync.Once
			let := func() { once.Do(func() { close(release) }) }
			t.Cleanup(let) // before Close (cleanups run last-first), so a failure ends at once
			first := mustResolve(t, r)
			events.Wait(t, resolver.EventRefreshed)
			if st := r.Status(context.Background()).Sources[0]; st.RefreshAt == nil || !st.RefreshAt.Equal(t0.Add(tc.refreshAt)) {
				t.Fatalf("status refresh_at = %v, want %v", st.RefreshAt, t0.Add(tc.refreshAt))
			}
			clock.Advance(tc.refreshAt - time.Millisecond)
			if st := r.Status(context.Background()).Sources[0]; st.State != "fresh" {
				t.Fatalf("state %q 1ms before the refresh time, want fresh", st.State)
			}
			clock.Advance(time.Millisecond)
			if st := r.Status(context.Background()).Sources[0]; st.State != "stale" {
				t.Fatalf("state %q at the refresh time, want stale", st.State)
			}
			if c := mustResolve(t, r); c != first {
				t.Fatal("the stale credential is not served while its refresh runs")
			}
			let()
			events.Wait(t, resolver.EventRefreshed)
			if n := src.calls.Load(); n != 2 {
				t.Fatalf("fetches = %d at refresh time, want 2", n)
			}
		})
	}
}

// NoBackgroundRefresh (short-lived CLI runs) serves a stale credential
// without starting a refresh it could not finish. Close waits for every
// refresh in flight, so after it the fetch count is final.
func TestNoBackgroundRefreshServesStaleWithoutFetching(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	src := &fakeSource{name: "s", fetch: tokenAt(clock, time.Hour)}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock, NoBackgroundRefresh: true})
	if err != nil {
		t.Fatal(err)
	}
	old := mustResolve(t, r)
	clock.Advance(58 * time.Minute) // past the refresh time: timers run
	if c := mustResolve(t, r); c != old {
		t.Fatal("stale credential not served")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1: a background refresh was started", n)
	}
}

// Under NoBackgroundRefresh an expired credential is still replaced by a
// blocking fetch.
func TestNoBackgroundRefreshFetchesOnceExpired(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	src := &fakeSource{name: "s", fetch: tokenAt(clock, time.Hour)}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock, NoBackgroundRefresh: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	old := mustResolve(t, r)
	clock.Advance(time.Hour) // expired: now it must fetch
	if c := mustResolve(t, r); c == old || c.Token.Reveal() != "token-number-0002-abcdefgh" {
		t.Fatalf("got %v after expiry, want the second token", c)
	}
}

// The hot path starts the refresh of a stale key that no timer refreshes:
// an API-key helper's key has a TTL (RefreshAt) but no expiry, and is re-run
// only when it is next used.
func TestHotPathKicksRefreshOfStaleTTLKey(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	src := &fakeSource{name: "helper", fetch: func(_ context.Context, _ *resolver.Credential, n int) (*resolver.Credential, error) {
		now := clock.Now()
		return &resolver.Credential{Kind: resolver.KindAPIKey, Token: resolver.NewSecret(fmt.Sprintf("sk-helper-key-%d", n)), IssuedAt: now, RefreshAt: now.Add(5 * time.Minute)}, nil
	}}
	events := testenv.NewEvents()
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock, OnEvent: events.Add})
	if err != nil {
		t.Fatal(err)
	}
	mustResolve(t, r)
	events.Wait(t, resolver.EventRefreshed)
	clock.Advance(6 * time.Minute) // stale; the timer alone starts no refresh of a TTL key
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("fetches = %d before the key was used again, want 1 (an idle program runs no helper)", n)
	}
	r, err = resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock, OnEvent: events.Add})
	if err != nil {
		t.Fatal(err)
	}
	old := mustResolve(t, r) // fetch 2, fresh for 5 minutes
	events.Wait(t, resolver.EventRefreshed)
	clock.Advance(6 * time.Minute)
	if c := mustResolve(t, r); c != old {
		t.Fatal("the stale key is not served at once")
	}
	if err := r.Close(); err != nil { // waits for the refresh the hot path started
		t.Fatal(err)
	}
	if n := src.calls.Load(); n != 3 {
		t.Fatalf("fetches = %d, want 3", n)
	}
}

// Close waits for an in-flight refresh so its result is stored: the refresh
// is let go only once Close has started (it stops the timers first).
func TestCloseWaitsForInflightRefresh(t *testing.T) {
	clock := &stopSignalClock{FakeClock: testenv.NewFakeClock(t0), stopped: make(chan struct{}, 16)}
	store := cache.NewMemory()
	started := make(chan struct{})
	release := make(chan struct{})
	src := &fakeSource{name: "oauth", persistent: true}
	inner := tokenAt(clock.FakeClock, time.Hour)
	src.fetch = func(ctx context.Context, prev *resolver.Credential, n int) (*resolver.Credential, error) {
		if n == 2 {
			close(started)
			<-release
		}
		return inner(ctx, prev, n)
	}
	events := testenv.NewEvents()
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock, Store: store, OnEvent: events.Add})
	if err != nil {
		t.Fatal(err)
	}
	mustResolve(t, r)
	events.Wait(t, resolver.EventRefreshed)
	go clock.Advance(56 * time.Minute)
	<-started
	for len(clock.stopped) > 0 { // stops made before Close
		<-clock.stopped
	}
	closed := make(chan error)
	go func() { closed <- r.Close() }()
	<-clock.stopped // Close has begun: it stopped the expiry timer
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	data, err := store.Get(context.Background(), "oauth")
	if err != nil {
		t.Fatal(err)
	}
	c, err := resolver.DecodeRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if c.Refresh.Reveal() != "refresh-2" {
		t.Fatalf("stored refresh token = %q, want the rotated refresh-2", c.Refresh.Reveal())
	}
}

// Close gives up on a refresh that outlives Config.CloseTimeout and says so;
// until then it waits.
func TestCloseTimesOutOnAStuckRefresh(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	started := make(chan struct{})
	release := make(chan struct{})
	src := &fakeSource{name: "s"}
	inner := tokenAt(clock, time.Hour)
	src.fetch = func(ctx context.Context, prev *resolver.Credential, n int) (*resolver.Credential, error) {
		if n == 2 {
			close(started)
			<-release
		}
		return inner(ctx, prev, n)
	}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock, CloseTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer close(release)
	mustResolve(t, r)
	go clock.Advance(56 * time.Minute)
	<-started
	if err := r.Close(); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("Close = %v with a refresh stuck in flight, want the timeout error", err)
	}
}

// stopSignalClock reports every timer Stop, so a test can tell that Close
// (which stops the timers first) has begun.
type stopSignalClock struct {
	*testenv.FakeClock
	stopped chan struct{}
}

type signalTimer struct {
	resolver.Timer
	stopped chan struct{}
}

func (t signalTimer) Stop() bool {
	select {
	case t.stopped <- struct{}{}:
	default:
	}
	return t.Timer.Stop()
}

func (c *stopSignalClock) At(at time.Time, f func()) resolver.Timer {
	return signalTimer{c.FakeClock.At(at, f), c.stopped}
}

// countingClock counts clock reads.
type countingClock struct {
	*testenv.FakeClock
	reads atomic.Int64
}

func (c *countingClock) Now() time.Time { c.reads.Add(1); return c.FakeClock.Now() }

// Resolve on a fresh credential allocates nothing and reads no clock (on
// virtual machines a clock read is a system call costing more than the rest
// of Resolve).
func TestHotPathAllocatesNothingAndReadsNoClock(t *testing.T) {
	clock := &countingClock{FakeClock: testenv.NewFakeClock(t0)}
	src := &fakeSource{name: "s", fetch: tokenAt(clock.FakeClock, time.Hour)}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	mustResolve(t, r)
	ctx := context.Background()
	before := clock.reads.Load()
	if n := testing.AllocsPerRun(1000, func() { _, _ = r.Resolve(ctx) }); n != 0 {
		t.Fatalf("Resolve allocates %v times per call", n)
	}
	if n := clock.reads.Load() - before; n != 0 {
		t.Fatalf("Resolve read the clock %d times", n)
	}
}

// The real wall-clock timer fires at its deadline, and Stop prevents it.
func TestSystemClockAt(t *testing.T) {
	clock := resolver.SystemClock()
	fired := make(chan time.Time, 1)
	deadline := time.Now().Add(30 * time.Millisecond)
	clock.At(deadline, func() { fired <- time.Now() })
	if got := <-fired; got.Before(deadline) {
		t.Fatalf("fired %v before its deadline", deadline.Sub(got))
	}
	stopped := clock.At(time.Now().Add(20*time.Millisecond), func() { t.Error("stopped timer fired") })
	if !stopped.Stop() {
		t.Fatal("Stop reported the timer already stopped")
	}
	past := make(chan struct{})
	clock.At(time.Now().Add(-time.Hour), func() { close(past) })
	<-past // a deadline already passed fires at once
	control := make(chan struct{})
	clock.At(time.Now().Add(40*time.Millisecond), func() { close(control) })
	<-control // by now the stopped timer's deadline has passed too
}

// A credential stops being handed out a little before its expiry — a tenth
// of its life, at most 10 s — so no caller gets a token that dies on the
// wire (found by the 8-process login test: a token printed 28 ms before it
// expired).
func TestNotServedInItsLastMoments(t *testing.T) {
	for _, tc := range []struct {
		life, servedAt, refusedAt time.Duration
	}{
		{time.Hour, time.Hour - 11*time.Second, time.Hour - 10*time.Second},
		{10 * time.Second, 8900 * time.Millisecond, 9 * time.Second},
	} {
		t.Run(tc.life.String(), func(t *testing.T) {
			clock := testenv.NewFakeClock(t0)
			src, failing := flakySource(clock, tc.life, errors.New("offline"))
			r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock, NoBackgroundRefresh: true})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			old := mustResolve(t, r)
			failing.Store(true)
			clock.Set(t0.Add(tc.servedAt))
			if c := mustResolve(t, r); c != old {
				t.Fatal("not served before its margin")
			}
			clock.Set(t0.Add(tc.refusedAt))
			if c, err := r.Resolve(context.Background()); err == nil {
				t.Fatalf("served %v inside its last moments", c)
			}
		})
	}
}

// A credential whose issue time is not before its expiry (a source's clock
// confused) has no life to take a tenth of: it gets the full 10 s margin,
// not none.
func TestZeroLifeCredentialGetsTheFullMargin(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	expiry := t0.Add(time.Hour)
	src := &fakeSource{name: "s", fetch: func(_ context.Context, _ *resolver.Credential, n int) (*resolver.Credential, error) {
		if n > 1 {
			return nil, errors.New("offline")
		}
		return &resolver.Credential{Kind: resolver.KindBearer, Token: resolver.NewSecret("zero-life-token-xxxx"), IssuedAt: expiry, Expiry: expiry}, nil
	}}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock, NoBackgroundRefresh: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	mustResolve(t, r)
	// Nor half of no life to refresh at: the refresh window applies.
	if st := r.Status(context.Background()).Sources[0]; st.RefreshAt == nil || !st.RefreshAt.Equal(expiry.Add(-resolver.DefaultRefreshWindow)) {
		t.Fatalf("refresh_at = %v, want %v", st.RefreshAt, expiry.Add(-resolver.DefaultRefreshWindow))
	}
	clock.Set(expiry.Add(-9 * time.Second))
	if c, err := r.Resolve(context.Background()); err == nil {
		t.Fatalf("served %v 9 s before its expiry", c)
	}
}

// Every credential handed out is named after the source that produced it,
// whatever the source put in Source, and the source's own value is left
// untouched (it may hand it out again).
func TestCredentialIsNamedAfterItsSource(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	own := &resolver.Credential{Source: "somebody-else", Kind: resolver.KindBearer, Token: resolver.NewSecret("named-token-xxxxxxxx"), IssuedAt: t0, Expiry: t0.Add(time.Hour)}
	src := &fakeSource{name: "s", fetch: func(context.Context, *resolver.Credential, int) (*resolver.Credential, error) { return own, nil }}
	r := newResolver(t, clock, nil, nil, src)
	c := mustResolve(t, r)
	if c.Source != "s" || !c.IssuedAt.Equal(t0) {
		t.Fatalf("credential source %q issued %v, want s at %v", c.Source, c.IssuedAt, t0)
	}
	if own.Source != "somebody-else" {
		t.Fatal("the source's own credential was modified")
	}
}
