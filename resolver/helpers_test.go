package resolver_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// fakeSource is a scriptable source: fetch decides each answer.
type fakeSource struct {
	name       string
	persistent bool
	probe      error
	calls      atomic.Int32
	fetch      func(ctx context.Context, prev *resolver.Credential, n int) (*resolver.Credential, error)
}

func (f *fakeSource) Name() string { return f.name }
func (f *fakeSource) Fetch(ctx context.Context, prev *resolver.Credential) (*resolver.Credential, error) {
	n := int(f.calls.Add(1))
	return f.fetch(ctx, prev, n)
}
func (f *fakeSource) Persistent() bool { return f.persistent }

type probingSource struct{ *fakeSource }

func (p probingSource) Probe() error { return p.probe }

// tokenAt returns a fetch func that hands out bearer tokens "tok-N" valid
// for life from the clock's now.
func tokenAt(clock *testenv.FakeClock, life time.Duration) func(context.Context, *resolver.Credential, int) (*resolver.Credential, error) {
	return func(_ context.Context, prev *resolver.Credential, n int) (*resolver.Credential, error) {
		now := clock.Now()
		return &resolver.Credential{
			Kind:    resolver.KindBearer,
			Token:   resolver.NewSecret(fmt.Sprintf("token-number-%04d-abcdefgh", n)),
			Refresh: resolver.NewSecret(fmt.Sprintf("refresh-%d", n)),
			Expiry:  now.Add(life), IssuedAt: now,
		}, nil
	}
}

func newResolver(t *testing.T, clock *testenv.FakeClock, events *testenv.Events, store cache.Store, sources ...resolver.Source) *resolver.Resolver {
	t.Helper()
	cfg := resolver.Config{Sources: sources, Clock: clock, Store: store, RetryMin: time.Second, RetryMax: 8 * time.Second}
	if events != nil {
		cfg.OnEvent = events.Add
	}
	return testenv.NewResolver(t, cfg)
}

func mustResolve(t *testing.T, r *resolver.Resolver) *resolver.Credential {
	t.Helper()
	c, err := r.Resolve(context.Background())
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return c
}

// flakySource hands out tokens valid for life, or fails with err while the
// returned switch is on.
func flakySource(clock *testenv.FakeClock, life time.Duration, err error) (*fakeSource, *atomic.Bool) {
	failing := new(atomic.Bool)
	good := tokenAt(clock, life)
	src := &fakeSource{name: "s"}
	src.fetch = func(ctx context.Context, prev *resolver.Credential, n int) (*resolver.Credential, error) {
		if failing.Load() {
			return nil, err
		}
		return good(ctx, prev, n)
	}
	return src, failing
}
