package resolver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// A refresh that fails with a KeepError (a rotated refresh token came back
// without a usable access token) writes the kept credential to the store
// before the failure is handled, and the next refresh starts from it; a
// KeepError with nothing to keep is an ordinary failure.
func TestKeepErrorStoresTheRotatedRefreshToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		keep bool
	}{{"rotated refresh token", true}, {"nothing to keep", false}} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testenv.NewFakeClock(t0)
			store := cache.NewMemory()
			good := tokenAt(clock, time.Hour)
			var thirdPrev *resolver.Credential
			src := &fakeSource{name: "s", persistent: true}
			src.fetch = func(ctx context.Context, prev *resolver.Credential, n int) (*resolver.Credential, error) {
				switch n {
				case 2:
					ke := &resolver.KeepError{Err: errors.New("token endpoint returned no access token")}
					if tc.keep {
						ke.Keep = &resolver.Credential{Kind: resolver.KindBearer,
							Token:   resolver.NewSecret("token-number-0001-abcdefgh"),
							Refresh: resolver.NewSecret("rotated-refresh"), Expiry: t0.Add(time.Hour), IssuedAt: t0}
					}
					return nil, ke
				case 3:
					thirdPrev = prev
				}
				return good(ctx, prev, n)
			}
			events := testenv.NewEvents()
			r := newResolver(t, clock, events, store, src)
			mustResolve(t, r)
			events.Wait(t, resolver.EventRefreshed)
			clock.Set(t0.Add(55*time.Minute + time.Second)) // stale: the refresh gets the KeepError
			events.Wait(t, resolver.EventRefreshFailed)

			data, err := store.Get(context.Background(), resolver.StoreKey(src))
			if err != nil {
				t.Fatal(err)
			}
			stored, err := resolver.DecodeRecord(data)
			if err != nil {
				t.Fatal(err)
			}
			want := "refresh-1"
			if tc.keep {
				want = "rotated-refresh"
			}
			if got := stored.Refresh.Reveal(); got != want {
				t.Fatalf("stored refresh token = %q, want %q", got, want)
			}

			clock.Advance(8 * time.Second) // the retry
			events.Wait(t, resolver.EventRefreshed)
			if thirdPrev == nil || thirdPrev.Refresh.Reveal() != want {
				t.Fatalf("the next refresh started from %v, want refresh token %q", thirdPrev, want)
			}
		})
	}
}

// The failure a process shares through the store carries the backoff of
// that failure: it grows with consecutive failures (the second is 2 s ±20%
// with RetryMin 1 s), so another process waits as long as this one does.
func TestSharedFailureBackoffGrowsWithConsecutiveFailures(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := cache.NewMemory()
	src, failing := flakySource(clock, time.Hour, errors.New("token endpoint answered 503"))
	src.persistent = true
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock, Store: store,
		RetryMin: time.Second, RetryMax: time.Minute, ErrorTTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	mustResolve(t, r)
	failing.Store(true)
	shared := func() time.Duration {
		t.Helper()
		data, err := store.Get(context.Background(), resolver.StoreKey(src))
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Failure *struct{ Until, At time.Time }
		}
		if err := json.Unmarshal(data, &rec); err != nil || rec.Failure == nil {
			t.Fatalf("no failure in the stored record (%v): %s", err, data)
		}
		return rec.Failure.Until.Sub(rec.Failure.At)
	}
	for i, want := range []struct{ lo, hi time.Duration }{
		{800 * time.Millisecond, 1200 * time.Millisecond},
		{1600 * time.Millisecond, 2400 * time.Millisecond},
		{3200 * time.Millisecond, 4800 * time.Millisecond},
	} {
		clock.Set(t0.Add(2*time.Hour + time.Duration(i)*time.Minute)) // expired, and past every earlier backoff
		if _, err := r.Resolve(context.Background()); err == nil {
			t.Fatal("no error from a failing source")
		}
		if got := shared(); got < want.lo || got > want.hi {
			t.Fatalf("failure %d: shared backoff %v, want within [%v, %v]", i+1, got, want.lo, want.hi)
		}
	}
	if n := src.calls.Load(); n != 4 {
		t.Fatalf("fetches = %d, want the initial one and three failures", n)
	}
}

// A dead login or a permanent error that another process shared through the
// store is replayed as what it is: a second process's error matches
// ErrLoginRequired (and not ErrPermanent) for a dead login, ErrPermanent
// (and not ErrLoginRequired) for a permanent error, never as a source that
// does not apply, and without a fetch.
func TestSharedDeadAndPermanentFailuresKeepTheirKind(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err, notE error
	}{
		{"login required", resolver.ErrLoginRequired, resolver.ErrPermanent},
		{"permanent", resolver.ErrPermanent, resolver.ErrLoginRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testenv.NewFakeClock(t0)
			store := cache.NewMemory()
			mk := func() (*fakeSource, *atomic.Bool) {
				src, failing := flakySource(clock, time.Hour, fmt.Errorf("token endpoint: %w", tc.err))
				src.persistent = true
				return src, failing
			}
			src1, failing1 := mk()
			r1 := newResolver(t, clock, nil, store, src1)
			mustResolve(t, r1)
			failing1.Store(true)
			clock.Set(t0.Add(2 * time.Hour)) // expired: the next Resolve fetches, and fails
			if _, err := r1.Resolve(context.Background()); !errors.Is(err, tc.err) {
				t.Fatalf("first process: %v, want %v", err, tc.err)
			}
			src2, _ := mk()
			r2 := newResolver(t, clock, nil, store, src2)
			_, err := r2.Resolve(context.Background())
			if errors.Is(err, resolver.ErrNotConfigured) || errors.Is(err, resolver.ErrNoSource) {
				t.Fatalf("second process: %v; a shared failure taken for a source that does not apply", err)
			}
			if !errors.Is(err, tc.err) || errors.Is(err, tc.notE) {
				t.Fatalf("second process: %v; want it to match %v and not %v", err, tc.err, tc.notE)
			}
			if !strings.Contains(err.Error(), "seen by credchain pid") || src2.calls.Load() != 0 {
				t.Fatalf("second process: %v after %d fetches; want the first one's failure, replayed", err, src2.calls.Load())
			}
		})
	}
}

// A process whose login died does not take the record it cleared (the same
// access token, the refresh token removed) for a new login, even when the
// record carries no failure note (an older credchain cleared it, or the
// note was dropped): its re-check of the store calls no source.
func TestClearedRecordWithoutFailureNoteKeepsTheLoginDead(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := cache.NewMemory()
	src, failing := flakySource(clock, time.Hour, fmt.Errorf("invalid_grant: %w", resolver.ErrLoginRequired))
	src.persistent = true
	events := testenv.NewEvents()
	r := newResolver(t, clock, events, store, src)
	mustResolve(t, r)
	failing.Store(true)
	clock.Set(t0.Add(56 * time.Minute)) // stale: the refresh token is refused
	events.Wait(t, resolver.EventLoginRequired)
	calls := src.calls.Load()

	key := resolver.StoreKey(src)
	data, err := store.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	cleared, err := resolver.DecodeRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if !cleared.Refresh.IsZero() {
		t.Fatal("the dead refresh token was not cleared from the store")
	}
	plain, err := resolver.EncodeRecord(cleared, clock.Now()) // the same record, without the failure note
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Set(context.Background(), key, plain); err != nil {
		t.Fatal(err)
	}

	clock.Advance(8 * time.Second)    // RetryMax: the store is re-checked
	if err := r.Close(); err != nil { // waits for the re-check
		t.Fatal(err)
	}
	if got := src.calls.Load(); got != calls {
		t.Fatalf("source called %d more times after the login died: the cleared record was taken for a new login", got-calls)
	}
}
