package resolver_test

import (
	"context"
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

// identSource is a persistent source with an identity.
type identSource struct {
	*fakeSource
	id string
}

func (s identSource) Identity() string { return s.id }

// A record stored for one identity (AWS profile a) is never served to
// another (profile b) of the same source.
func TestRecordsAreKeyedByIdentity(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := cache.NewMemory()
	srcA := identSource{&fakeSource{name: "bedrock", persistent: true, fetch: tokenAt(clock, time.Hour)}, "profile=a role=A"}
	ra := newResolver(t, clock, nil, store, srcA)
	credA := mustResolve(t, ra)

	srcB := identSource{&fakeSource{name: "bedrock", persistent: true, fetch: func(context.Context, *resolver.Credential, int) (*resolver.Credential, error) {
		now := clock.Now()
		return &resolver.Credential{Kind: resolver.KindBearer, Token: resolver.NewSecret("token-of-role-b-xxxxxx"), Expiry: now.Add(time.Hour), IssuedAt: now}, nil
	}}, "profile=b role=B"}
	rb := newResolver(t, clock, nil, store, srcB)
	credB := mustResolve(t, rb)
	if credB.SameSecret(credA) {
		t.Fatal("profile b was served profile a's stored credential")
	}
	if srcB.calls.Load() != 1 {
		t.Fatalf("profile b's source called %d times, want 1", srcB.calls.Load())
	}
	if resolver.StoreKey(srcA) == resolver.StoreKey(srcB) {
		t.Fatal("two identities share a store key")
	}
	st := rb.Status(context.Background())
	if st.Sources[0].Identity != "profile=b role=B" {
		t.Fatalf("status identity = %q", st.Sources[0].Identity)
	}
}

// A login is not written over a record the store cannot read; Replace
// (login --force) does it.
func TestStoreRefusesToOverwriteAnUnreadableRecord(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := cache.NewMemory()
	_ = store.Set(context.Background(), "oauth", []byte(`{"version":99,"kind":"bearer"}`))
	src := &fakeSource{name: "oauth", persistent: true, fetch: tokenAt(clock, time.Hour)}
	r := newResolver(t, clock, nil, store, src)
	cred := &resolver.Credential{Source: "oauth", Kind: resolver.KindBearer, Token: resolver.NewSecret("fresh-login-token-xxxx"), Expiry: t0.Add(time.Hour)}
	err := r.Store(context.Background(), cred)
	if !errors.Is(err, resolver.ErrStoreRead) || !strings.Contains(err.Error(), "version 99") {
		t.Fatalf("Store over a newer record: %v; want ErrStoreRead naming the version", err)
	}
	if data, _ := store.Get(context.Background(), "oauth"); !strings.Contains(string(data), `"version":99`) {
		t.Fatal("the unreadable record was overwritten")
	}
	if err := r.Replace(context.Background(), cred); err != nil {
		t.Fatal(err)
	}
	if c := mustResolve(t, r); !c.SameSecret(cred) {
		t.Fatalf("after Replace got %v", c)
	}
}

type retryAfterErr struct{ d time.Duration }

func (e retryAfterErr) Error() string             { return "HTTP 429" }
func (e retryAfterErr) RetryAfter() time.Duration { return e.d }

// After expiry, a failure is served to every caller for the backoff, which
// honours Retry-After; the source is not called again before it.
func TestAfterExpiryBackoffHonoursRetryAfter(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	src, failing := flakySource(clock, time.Hour, retryAfterErr{7 * time.Second})
	r := newResolver(t, clock, nil, nil, src)
	mustResolve(t, r)
	failing.Store(true)
	clock.Set(t0.Add(2 * time.Hour))
	if _, err := r.Resolve(context.Background()); err == nil {
		t.Fatal("no error from a failing source after expiry")
	}
	calls := src.calls.Load()
	for range 6 { // 6 s of callers: none reaches the source
		clock.Advance(time.Second)
		if _, err := r.Resolve(context.Background()); err == nil {
			t.Fatal("no error during the backoff")
		}
	}
	if got := src.calls.Load(); got != calls {
		t.Fatalf("source called %d times within Retry-After", got-calls)
	}
	clock.Advance(2 * time.Second)
	failing.Store(false)
	mustResolve(t, r)
}

// A permanent error is not retried at all in this process; a dead login
// with a still-valid access token costs no store round-trip per Resolve.
func TestPermanentAndDeadAreNotRetried(t *testing.T) {
	t.Run("permanent", func(t *testing.T) {
		clock := testenv.NewFakeClock(t0)
		src, failing := flakySource(clock, time.Hour, fmt.Errorf("invalid_client: %w", resolver.ErrPermanent))
		r := newResolver(t, clock, nil, nil, src)
		mustResolve(t, r)
		failing.Store(true)
		clock.Set(t0.Add(2 * time.Hour))
		for range 5 {
			clock.Advance(time.Second)
			if _, err := r.Resolve(context.Background()); !errors.Is(err, resolver.ErrPermanent) {
				t.Fatalf("err = %v", err)
			}
		}
		if got := src.calls.Load(); got != 2 {
			t.Fatalf("source called %d times; want the initial fetch and one failure", got)
		}
	})
	t.Run("dead login, valid access token", func(t *testing.T) {
		clock := testenv.NewFakeClock(t0)
		store := &countingStore{Memory: cache.NewMemory()}
		src, failing := flakySource(clock, time.Hour, fmt.Errorf("invalid_grant: %w", resolver.ErrLoginRequired))
		src.persistent = true
		events := testenv.NewEvents()
		r := newResolver(t, clock, events, store, src)
		mustResolve(t, r)
		failing.Store(true)
		clock.Set(t0.Add(56 * time.Minute)) // stale: one refresh, refused
		mustResolve(t, r)
		events.Wait(t, resolver.EventLoginRequired)
		gets, calls := store.gets.Load(), src.calls.Load()
		for range 1000 {
			mustResolve(t, r)
		}
		if err := r.Close(); err != nil { // waits for any refresh a Resolve started
			t.Fatal(err)
		}
		if store.gets.Load() != gets || src.calls.Load() != calls {
			t.Fatalf("1000 Resolves after a dead login: %d store reads, %d fetches; want none",
				store.gets.Load()-gets, src.calls.Load()-calls)
		}
	})
}

// A failure seen by the process holding the lock is recorded in the store,
// so another process does not repeat the same request during its backoff.
func TestFailureIsSharedThroughTheStore(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := cache.NewMemory()
	mk := func() (*fakeSource, *atomic.Bool) {
		src, failing := flakySource(clock, time.Hour, retryAfterErr{30 * time.Second})
		src.persistent = true
		return src, failing
	}
	src1, failing1 := mk()
	r1 := newResolver(t, clock, nil, store, src1)
	mustResolve(t, r1)
	failing1.Store(true)
	src2, _ := mk()
	clock.Set(t0.Add(2 * time.Hour))
	if _, err := r1.Resolve(context.Background()); err == nil {
		t.Fatal("no error")
	}
	r2 := newResolver(t, clock, nil, store, src2)
	_, err := r2.Resolve(context.Background())
	if err == nil || !strings.Contains(err.Error(), "seen by credchain pid") {
		t.Fatalf("second process: %v; want the first one's failure", err)
	}
	if src2.calls.Load() != 0 {
		t.Fatal("the second process repeated the failing request")
	}
	var ra resolver.RetryAfter
	if !errors.As(err, &ra) || ra.RetryAfter() <= 0 {
		t.Fatalf("the shared failure carries no remaining backoff: %v", err)
	}
}

// A process whose credential is still usable never waits for a lock
// another holds: its background refresh fails at once (the lock is busy)
// and the credential keeps being served.
func TestUsableCredentialNeverWaitsForTheLock(t *testing.T) {
	testenv.Hermetic(t)
	clock := testenv.NewFakeClock(t0)
	store, err := cache.Open(context.Background(), cache.Options{Backend: "plaintext", Dir: t.TempDir(), LockWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{name: "oauth", persistent: true, fetch: tokenAt(clock, time.Hour)}
	events := testenv.NewEvents()
	r := newResolver(t, clock, events, store, src)
	cred := mustResolve(t, r)
	events.Wait(t, resolver.EventRefreshed)
	unlock, err := store.Lock(context.Background(), "oauth") // another process's refresh
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	clock.Set(t0.Add(56 * time.Minute)) // stale, still valid
	if c := mustResolve(t, r); !c.SameSecret(cred) {
		t.Fatalf("got %v", c)
	}
	ev := events.Wait(t, resolver.EventRefreshFailed) // not after LockWait (an hour)
	if !errors.Is(ev.Err, cache.ErrLockBusy) {
		t.Fatalf("refresh failed with %v; want the lock busy", ev.Err)
	}
	if c := mustResolve(t, r); !c.SameSecret(cred) {
		t.Fatalf("after the busy lock got %v", c)
	}
}

type legacySource struct {
	identSource
	client string
}

func (s legacySource) Matches(c *resolver.Credential) bool { return c.Meta["client_id"] == s.client }

// A login stored under the bare source name by an older credchain is
// adopted when it belongs to the current identity, and only then; the
// migrated record is installed as the stored record is, when it is read (no
// second trip through the lock and the store: no adopted event).
func TestLegacyRecordMigrates(t *testing.T) {
	for _, tc := range []struct {
		client string
		want   bool
	}{{"cli-a", true}, {"cli-b", false}} {
		clock := testenv.NewFakeClock(t0)
		store := cache.NewMemory()
		old, _ := resolver.EncodeRecord(&resolver.Credential{Source: "oauth", Kind: resolver.KindBearer,
			Token: resolver.NewSecret("legacy-access-token-xxxx"), Expiry: t0.Add(time.Hour),
			Meta: map[string]string{"client_id": "cli-a"}}, t0)
		_ = store.Set(context.Background(), "oauth", old)
		src := legacySource{identSource{&fakeSource{name: "oauth", persistent: true, fetch: func(context.Context, *resolver.Credential, int) (*resolver.Credential, error) {
			return nil, resolver.NotConfigured("not logged in")
		}}, "client=" + tc.client}, tc.client}
		events := testenv.NewEvents()
		r := newResolver(t, clock, events, store, src)
		c, err := r.Resolve(context.Background())
		if got := err == nil && c.Token.Reveal() == "legacy-access-token-xxxx"; got != tc.want {
			t.Fatalf("client %s: adopted = %v (%v, %v), want %v", tc.client, got, c, err, tc.want)
		}
		for _, ev := range events.All() {
			if tc.want && (ev.Kind == resolver.EventAdopted || ev.Kind == resolver.EventRefreshed) {
				t.Fatalf("client %s: the migrated record was not installed when it was read: %s event", tc.client, ev.Kind)
			}
		}
		if _, err := store.Get(context.Background(), resolver.StoreKey(src)); (err == nil) != tc.want {
			t.Fatalf("client %s: record under the identity key: %v", tc.client, err)
		}
	}
}
