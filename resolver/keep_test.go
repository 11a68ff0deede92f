package resolver_test

import (
	"context"
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
