package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// faultyStore is a memory store whose operations fail while told to, and
// which counts every call.
type faultyStore struct {
	*cache.Memory
	mu                              sync.Mutex
	lockErr, getErr, setErr, delErr error
	locks, gets, sets, deletes      int
}

func newFaultyStore() *faultyStore { return &faultyStore{Memory: cache.NewMemory()} }

func (s *faultyStore) fail(lock, get, set, del error) {
	s.mu.Lock()
	s.lockErr, s.getErr, s.setErr, s.delErr = lock, get, set, del
	s.mu.Unlock()
}

func (s *faultyStore) Lock(ctx context.Context, key string) (func(), error) {
	s.mu.Lock()
	s.locks++
	err := s.lockErr
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.Memory.Lock(ctx, key)
}

func (s *faultyStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	s.gets++
	err := s.getErr
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.Memory.Get(ctx, key)
}

func (s *faultyStore) Set(ctx context.Context, key string, v []byte) error {
	s.mu.Lock()
	s.sets++
	err := s.setErr
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.Memory.Set(ctx, key, v)
}

func (s *faultyStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	s.deletes++
	err := s.delErr
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.Memory.Delete(ctx, key)
}

func storedToken(t *testing.T, s cache.Store, key string) string {
	t.Helper()
	data, err := s.Get(context.Background(), key)
	if errors.Is(err, cache.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	c, err := resolver.DecodeRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	return c.Token.Reveal()
}

// A store that cannot be read is reported (store_failed) and is an error of
// its own (ErrStoreRead, never "not logged in"): the source is not asked,
// so nothing overwrites a record that may still be good.
func TestStoreReadFailureEmitsStoreFailedAndIsAnError(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := newFaultyStore()
	keychainLocked := errors.New("keychain locked")
	store.fail(nil, keychainLocked, nil, nil)
	src := &fakeSource{name: "oauth", persistent: true, fetch: tokenAt(clock, time.Hour)}
	events := testenv.NewEvents()
	r := newResolver(t, clock, events, store, src)
	_, err := r.Resolve(context.Background())
	if !errors.Is(err, resolver.ErrStoreRead) || !errors.Is(err, keychainLocked) {
		t.Fatalf("Resolve = %v, want ErrStoreRead wrapping the read error", err)
	}
	ev := events.Wait(t, resolver.EventStoreFailed)
	if ev.Source != "oauth" || !errors.Is(ev.Err, keychainLocked) {
		t.Fatalf("store_failed event = %+v, want oauth's read error", ev)
	}
	if n := src.calls.Load(); n != 0 {
		t.Fatalf("fetches = %d, want 0 (an unreadable record is not replaced unasked)", n)
	}
}

// A store that cannot be written is reported (store_failed) and the new
// credential is served from memory, without fetching again.
func TestStoreWriteFailureEmitsStoreFailedAndServesFromMemory(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := newFaultyStore()
	diskFull := errors.New("no space left on device")
	store.fail(nil, nil, diskFull, nil)
	src := &fakeSource{name: "oauth", persistent: true, fetch: tokenAt(clock, time.Hour)}
	events := testenv.NewEvents()
	r := newResolver(t, clock, events, store, src)
	c := mustResolve(t, r)
	ev := events.Wait(t, resolver.EventStoreFailed)
	if ev.Source != "oauth" || !errors.Is(ev.Err, diskFull) || !strings.Contains(ev.Err.Error(), "writing the store") {
		t.Fatalf("store_failed event = %+v, want oauth's write error", ev)
	}
	events.Wait(t, resolver.EventRefreshed)
	if again := mustResolve(t, r); again != c || src.calls.Load() != 1 {
		t.Fatalf("fetches = %d; the credential is not served from memory", src.calls.Load())
	}
	if tok := storedToken(t, store.Memory, "oauth"); tok != "" {
		t.Fatalf("stored %q although the write failed", tok)
	}
}

// Without the store's cross-process lock no refresh is made: another
// process may be refreshing with the same single-use refresh token.
func TestStoreLockFailureFailsTheFetchWithoutCallingTheSource(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := newFaultyStore()
	lockErr := errors.New("lock file on a read-only file system")
	store.fail(lockErr, nil, nil, nil)
	src := &fakeSource{name: "oauth", persistent: true, fetch: tokenAt(clock, time.Hour)}
	events := testenv.NewEvents()
	r := newResolver(t, clock, events, store, src)
	_, err := r.Resolve(context.Background())
	if !errors.Is(err, lockErr) || !strings.Contains(err.Error(), "oauth: taking the store lock") {
		t.Fatalf("err = %v, want the lock error naming the source", err)
	}
	if n := src.calls.Load(); n != 0 {
		t.Fatalf("source called %d times without the lock", n)
	}
	if ev := events.Wait(t, resolver.EventRefreshFailed); !errors.Is(ev.Err, lockErr) || ev.Attempt != 1 {
		t.Fatalf("refresh_failed = %+v", ev)
	}
}

// Store (a login) that cannot take the lock or write fails with the reason,
// and the login is not served from memory either: what is served is what
// other processes can read.
func TestStoreFailuresAreReturnedAndNothingIsServed(t *testing.T) {
	for _, tc := range []struct {
		name      string
		lock, set error
		want      string
	}{
		{"lock", errors.New("lock timeout"), nil, "oauth: taking the store lock: lock timeout"},
		{"write", nil, errors.New("keychain refused"), "oauth: writing the store: keychain refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testenv.NewFakeClock(t0)
			store := newFaultyStore()
			src := &fakeSource{name: "oauth", persistent: true, fetch: func(context.Context, *resolver.Credential, int) (*resolver.Credential, error) {
				return nil, resolver.NotConfigured("not logged in")
			}}
			r := newResolver(t, clock, nil, store, src)
			store.fail(tc.lock, nil, tc.set, nil)
			login := &resolver.Credential{Source: "oauth", Kind: resolver.KindBearer, Token: resolver.NewSecret("login-access-token-xxxx"), Expiry: t0.Add(time.Hour)}
			err := r.Store(context.Background(), login)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Store = %v, want %q", err, tc.want)
			}
			store.fail(nil, nil, nil, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second) // bounds a leaked lock
			defer cancel()
			if _, err := r.Resolve(ctx); !errors.Is(err, resolver.ErrNoSource) {
				t.Fatalf("Resolve after a failed Store = %v, want no source (the login was not kept, the lock released)", err)
			}
			// A second login goes through.
			if err := r.Store(ctx, login); err != nil {
				t.Fatalf("Store after the store recovered: %v", err)
			}
			if c := mustResolve(t, r); c.Token.Reveal() != "login-access-token-xxxx" {
				t.Fatalf("got %v", c)
			}
		})
	}
}

// Store of an unknown source is refused.
func TestStoreUnknownSource(t *testing.T) {
	r := newResolver(t, testenv.NewFakeClock(t0), nil, cache.NewMemory(), staticSource("api-key", "sk"))
	err := r.Store(context.Background(), &resolver.Credential{Source: "nope", Kind: resolver.KindBearer, Token: resolver.NewSecret("x")})
	if err == nil || !strings.Contains(err.Error(), `unknown source "nope"`) {
		t.Fatalf("err = %v", err)
	}
}

// retryAfterError carries a server's Retry-After.
type retryAfterError struct{ d time.Duration }

func (e retryAfterError) Error() string             { return fmt.Sprintf("429, retry after %v", e.d) }
func (e retryAfterError) RetryAfter() time.Duration { return e.d }

// A server's Retry-After longer than the backoff is honoured; one past the
// credential's usable end is cut to it (the retry must come while there is
// still something to keep); a short one does not shorten the backoff.
func TestBackoffHonoursRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter time.Duration
		min, max   time.Duration // of NextRetry - failure time
	}{
		{"longer than the backoff", 30 * time.Second, 30 * time.Second, 30 * time.Second},
		{"past the usable end", 2 * time.Hour, 4*time.Minute + 50*time.Second, 4*time.Minute + 50*time.Second},
		{"shorter than the backoff", time.Millisecond, 800 * time.Millisecond, 1200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testenv.NewFakeClock(t0)
			src, failing := flakySource(clock, time.Hour, retryAfterError{tc.retryAfter})
			events := testenv.NewEvents()
			r := newResolver(t, clock, events, nil, src)
			mustResolve(t, r)
			failing.Store(true)
			clock.Advance(55 * time.Minute)
			ev := events.Wait(t, resolver.EventRefreshFailed)
			if gap := ev.NextRetry.Sub(clock.Now()); gap < tc.min || gap > tc.max {
				t.Fatalf("next retry in %v, want within [%v, %v]", gap, tc.min, tc.max)
			}
			if !ev.Expiry.Equal(t0.Add(time.Hour)) || ev.Attempt != 1 {
				t.Fatalf("event = %+v", ev)
			}
		})
	}
}

// The exponential backoff stops growing at RetryMax (8s here, ±20%).
func TestBackoffIsCappedAtRetryMax(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	src, failing := flakySource(clock, time.Hour, errors.New("503"))
	events := testenv.NewEvents()
	r := newResolver(t, clock, events, nil, src)
	mustResolve(t, r)
	failing.Store(true)
	clock.Advance(55 * time.Minute)
	var gaps []time.Duration
	for attempt := 1; attempt <= 7; attempt++ {
		ev := events.Wait(t, resolver.EventRefreshFailed)
		if ev.Attempt != attempt {
			t.Fatalf("attempt = %d, want %d", ev.Attempt, attempt)
		}
		gaps = append(gaps, ev.NextRetry.Sub(clock.Now()))
		clock.Advance(ev.NextRetry.Sub(clock.Now()))
	}
	// RetryMin 1s doubling: 1, 2, 4, 8, 8, 8, 8 (each ±20%).
	for i, want := range []time.Duration{1, 2, 4, 8, 8, 8, 8} {
		lo, hi := want*time.Second*8/10, want*time.Second*12/10
		if gaps[i] < lo || gaps[i] > hi {
			t.Fatalf("backoff gaps %v: #%d not within [%v, %v]", gaps, i+1, lo, hi)
		}
	}
}

// A key with a TTL but no expiry (an API-key helper's) whose refresh fails
// is kept for another TTL instead of re-running a failing helper at every
// backoff step.
func TestFailedRefreshOfTTLKeyKeepsItForAnotherTTL(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	var failing bool
	var mu sync.Mutex
	src := &fakeSource{name: "helper", fetch: func(_ context.Context, _ *resolver.Credential, n int) (*resolver.Credential, error) {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			return nil, errors.New("helper exited with status 1")
		}
		now := clock.Now()
		return &resolver.Credential{Kind: resolver.KindAPIKey, Token: resolver.NewSecret(fmt.Sprintf("sk-helper-%d", n)), IssuedAt: now, RefreshAt: now.Add(5 * time.Minute)}, nil
	}}
	events := testenv.NewEvents()
	r := newResolver(t, clock, events, nil, src)
	old := mustResolve(t, r)
	events.Wait(t, resolver.EventRefreshed)
	mu.Lock()
	failing = true
	mu.Unlock()
	clock.Advance(6 * time.Minute)
	if c := mustResolve(t, r); c != old { // stale: served, and the hot path starts a refresh
		t.Fatal("stale key not served")
	}
	ev := events.Wait(t, resolver.EventRefreshFailed)
	if want := clock.Now().Add(5 * time.Minute); !ev.NextRetry.Equal(want) || ev.Attempt != 1 {
		t.Fatalf("refresh_failed = %+v, want next retry %v (another TTL)", ev, want)
	}
	for range 3 { // fresh again for the new TTL: no helper run
		if c := mustResolve(t, r); !c.SameSecret(old) {
			t.Fatal("the key is not kept after a failed refresh")
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("helper runs = %d, want 2 (the failing one not repeated within the TTL)", n)
	}
}

// FetchTimeout bounds one fetch: a source that hangs gets its context
// cancelled and the callers get the deadline error. Without it the fetch's
// context has no deadline.
func TestFetchTimeoutBoundsOneFetch(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	hang := &fakeSource{name: "s", fetch: func(ctx context.Context, _ *resolver.Credential, _ int) (*resolver.Credential, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Second): // only when the bound is missing
			return nil, errors.New("the fetch was not bounded")
		}
	}}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{hang}, Clock: clock, FetchTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	if _, err := r.Resolve(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the fetch deadline", err)
	}

	deadlines := make(chan bool, 1)
	probe := &fakeSource{name: "s", fetch: func(ctx context.Context, prev *resolver.Credential, n int) (*resolver.Credential, error) {
		_, ok := ctx.Deadline()
		deadlines <- ok
		return tokenAt(clock, time.Hour)(ctx, prev, n)
	}}
	r2 := newResolver(t, clock, nil, nil, probe)
	mustResolve(t, r2)
	if <-deadlines {
		t.Fatal("a fetch without FetchTimeout has a deadline")
	}
}

// revokingSource is a persistent source that records revocations.
type revokingSource struct {
	*fakeSource
	mu        sync.Mutex
	revoked   []string
	revokeErr error
}

func (s *revokingSource) Revoke(_ context.Context, c *resolver.Credential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = append(s.revoked, c.Refresh.Reveal())
	return s.revokeErr
}

func storeLogin(t *testing.T, store cache.Store, name, refresh string) {
	t.Helper()
	rec, err := resolver.EncodeRecord(&resolver.Credential{Source: name, Kind: resolver.KindBearer,
		Token: resolver.NewSecret("stored-access-token-xxxx"), Refresh: resolver.NewSecret(refresh), Expiry: t0.Add(time.Hour)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Set(context.Background(), name, rec); err != nil {
		t.Fatal(err)
	}
}

// Logout revokes the stored login, deletes the record, stops serving it and
// names what it removed; a revocation failure is reported but the record is
// deleted anyway.
func TestLogoutRevokesDeletesAndForgets(t *testing.T) {
	for _, tc := range []struct {
		name      string
		revokeErr error
		wantErr   string
	}{
		{"revoked", nil, ""},
		{"revocation fails", errors.New("revocation endpoint down"), "oauth: revoke: revocation endpoint down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testenv.NewFakeClock(t0)
			store := newFaultyStore()
			storeLogin(t, store, "oauth", "rt-stored")
			src := &revokingSource{fakeSource: &fakeSource{name: "oauth", persistent: true, fetch: func(context.Context, *resolver.Credential, int) (*resolver.Credential, error) {
				return nil, resolver.NotConfigured("not logged in")
			}}, revokeErr: tc.revokeErr}
			r := newResolver(t, clock, nil, store, staticSourceBelow(), src)
			if c := mustResolve(t, r); c.Token.Reveal() != "stored-access-token-xxxx" {
				t.Fatalf("got %v before logout", c)
			}
			removed, err := r.Logout(context.Background())
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Fatalf("Logout err = %v, want %q", err, tc.wantErr)
			}
			if strings.Join(removed, ",") != "oauth" {
				t.Fatalf("removed = %v, want [oauth]", removed)
			}
			if strings.Join(src.revoked, ",") != "rt-stored" {
				t.Fatalf("revoked %v, want the stored refresh token", src.revoked)
			}
			if tok := storedToken(t, store, "oauth"); tok != "" {
				t.Fatalf("record still stored after logout: %q", tok)
			}
			if c, err := r.Resolve(context.Background()); err == nil {
				t.Fatalf("still serving %v after logout", c)
			}
		})
	}
}

// staticSourceBelow is a non-persistent source listed first that does not
// apply, so the chain is walked again after a logout.
func staticSourceBelow() resolver.Source {
	return absentSource("api-key", "ANTHROPIC_API_KEY is not set")
}

// Logout with nothing stored removes nothing and revokes nothing; naming a
// source that stores nothing, or none that exists, is an error; a failed
// delete is reported.
func TestLogoutEdges(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := newFaultyStore()
	src := &revokingSource{fakeSource: &fakeSource{name: "oauth", persistent: true, fetch: tokenAt(clock, time.Hour)}}
	r := newResolver(t, clock, nil, store, staticSource("api-key", "sk"), src)
	removed, err := r.Logout(context.Background(), "oauth")
	if err != nil || len(removed) != 0 || len(src.revoked) != 0 {
		t.Fatalf("Logout with nothing stored = %v, %v (revoked %v)", removed, err, src.revoked)
	}
	if _, err := r.Logout(context.Background(), "api-key"); err == nil || !strings.Contains(err.Error(), `source "api-key" stores nothing`) {
		t.Fatalf("Logout(api-key) = %v", err)
	}
	if _, err := r.Logout(context.Background(), "nope"); err == nil || !strings.Contains(err.Error(), `unknown source "nope"`) {
		t.Fatalf("Logout(nope) = %v", err)
	}
	storeLogin(t, store, "oauth", "rt-stored")
	store.fail(nil, nil, nil, errors.New("keychain refused"))
	removed, err = r.Logout(context.Background())
	if err == nil || err.Error() != "oauth: deleting the stored record: keychain refused" || strings.Join(removed, ",") != "oauth" {
		t.Fatalf("Logout with a failing delete = %v, %v", removed, err)
	}
	store.fail(errors.New("lock timeout"), nil, nil, nil)
	if _, err := r.Logout(context.Background()); err == nil || err.Error() != "oauth: taking the store lock: lock timeout" {
		t.Fatalf("Logout without the lock = %v", err)
	}
}

// A source that answers with no credential, or with one already inside its
// last moments, has failed: the caller gets an error naming the source, not
// a credential that dies on the wire.
func TestUnusableAnswersAreErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cred func(now time.Time) *resolver.Credential
		want string
	}{
		{"no credential", func(time.Time) *resolver.Credential { return nil }, "s: source returned no credential"},
		{"expires too soon", func(now time.Time) *resolver.Credential {
			return &resolver.Credential{Kind: resolver.KindBearer, Token: resolver.NewSecret("dying-token-xxxx"), Expiry: now.Add(5 * time.Second)}
		}, "s: source returned a credential that expires at 2026-11-27T12:00:05Z, too soon to use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testenv.NewFakeClock(t0)
			src := &fakeSource{name: "s", fetch: func(context.Context, *resolver.Credential, int) (*resolver.Credential, error) {
				return tc.cred(clock.Now()), nil
			}}
			r := newResolver(t, clock, nil, nil, src)
			c, err := r.Resolve(context.Background())
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Resolve = %v, %v; want %q", c, err, tc.want)
			}
		})
	}
}
