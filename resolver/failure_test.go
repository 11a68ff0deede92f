package resolver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// A background refresh fails and schedules a retry; a login is then stored.
// The pending retry must not fire a refresh of the credential just stored.
func TestStoreCancelsPendingRetry(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	src, failing := flakySource(clock, time.Hour, errors.New("upstream down"))
	events := testenv.NewEvents()
	r := newResolver(t, clock, events, nil, src)
	mustResolve(t, r)
	events.Wait(t, resolver.EventRefreshed)

	failing.Store(true)
	clock.Set(t0.Add(56 * time.Minute)) // stale: a background refresh starts and fails
	mustResolve(t, r)
	events.Wait(t, resolver.EventRefreshFailed)
	failing.Store(false)

	now := clock.Now()
	stored := &resolver.Credential{Kind: resolver.KindBearer, Token: resolver.NewSecret("stored-by-login-0001"),
		Expiry: now.Add(time.Hour), IssuedAt: now, Source: "s"}
	if err := r.Store(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	calls := src.calls.Load()
	clock.Advance(30 * time.Second)   // past any backoff of the failed refresh
	if err := r.Close(); err != nil { // waits for a refresh the retry may have started
		t.Fatal(err)
	}
	if got := src.calls.Load(); got != calls {
		t.Fatalf("the retry scheduled before Store refreshed the stored credential: %d fetches after Store", got-calls)
	}
}
