package resolver_test

import (
	"context"
	"encoding/json"
	"errors"
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
