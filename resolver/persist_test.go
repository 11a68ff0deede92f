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

// rotatingProvider is a token endpoint with single-use refresh tokens: a
// reused refresh token is refused, as Dex and Anthropic do.
type rotatingProvider struct {
	clock  *testenv.FakeClock
	life   time.Duration
	valid  map[string]bool
	calls  int
	logins int
}

func (p *rotatingProvider) source(name string) *fakeSource {
	return &fakeSource{name: name, persistent: true, fetch: func(_ context.Context, prev *resolver.Credential, _ int) (*resolver.Credential, error) {
		if prev == nil {
			return nil, resolver.NotConfigured("not logged in")
		}
		if prev.Refresh.IsZero() { // as oauthpkce: nothing to present to the endpoint
			return nil, fmt.Errorf("no refresh token: %w", resolver.ErrLoginRequired)
		}
		p.calls++
		rt := prev.Refresh.Reveal()
		if !p.valid[rt] {
			return nil, fmt.Errorf("token endpoint: invalid_grant: %w", resolver.ErrLoginRequired)
		}
		delete(p.valid, rt)
		next := fmt.Sprintf("rt-%d", p.calls)
		p.valid[next] = true
		now := p.clock.Now()
		return &resolver.Credential{Kind: resolver.KindBearer, Token: resolver.NewSecret(fmt.Sprintf("access-token-%d-xxxxxxxx", p.calls)),
			Refresh: resolver.NewSecret(next), Expiry: now.Add(p.life), IssuedAt: now}, nil
	}}
}

func login(t *testing.T, r *resolver.Resolver, p *rotatingProvider) {
	t.Helper()
	p.logins++
	rt := fmt.Sprintf("rt-login-%d", p.logins)
	p.valid[rt] = true
	now := p.clock.Now()
	err := r.Store(context.Background(), &resolver.Credential{Source: "oauth", Kind: resolver.KindBearer,
		Token: resolver.NewSecret(fmt.Sprintf("access-token-login-%d-xxxxxxxx", p.logins)), Refresh: resolver.NewSecret(rt),
		Expiry: now.Add(p.life), IssuedAt: now})
	if err != nil {
		t.Fatal(err)
	}
}

// Two resolvers (standing for two processes) share one store: the second
// adopts what the first refreshed instead of calling the token endpoint with
// an already-rotated refresh token.
func TestSharedStoreAdoptsPeerRefresh(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := cache.NewMemory()
	p := &rotatingProvider{clock: clock, life: time.Hour, valid: map[string]bool{}}
	r1 := newResolver(t, clock, nil, store, p.source("oauth"))
	login(t, r1, p)
	r2 := newResolver(t, clock, nil, store, p.source("oauth"))
	c1, c2 := mustResolve(t, r1), mustResolve(t, r2)
	if !c1.SameSecret(c2) {
		t.Fatal("second process did not load the stored login")
	}
	for cycle := 1; cycle <= 5; cycle++ {
		clock.Set(clock.Now().Add(time.Hour + time.Minute)) // both expired
		a := mustResolve(t, r1)
		b := mustResolve(t, r2)
		if !a.SameSecret(b) {
			t.Fatalf("cycle %d: processes hold different tokens", cycle)
		}
		if p.calls != cycle {
			t.Fatalf("cycle %d: token endpoint calls = %d, want one per expiry", cycle, p.calls)
		}
	}
}

// A refused refresh token means "log in again": it is cleared from the store
// only if the store still holds it, and nothing else is lost.
func TestLoginRequiredClearsOnlyTheDeadToken(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := cache.NewMemory()
	p := &rotatingProvider{clock: clock, life: time.Hour, valid: map[string]bool{}}
	events := testenv.NewEvents()
	src := p.source("oauth") // counts every Fetch, including those the provider refuses
	r := newResolver(t, clock, events, store, src)
	login(t, r, p)
	delete(p.valid, "rt-login-1") // the provider revoked it
	clock.Set(t0.Add(2 * time.Hour))
	_, err := r.Resolve(context.Background())
	if !errors.Is(err, resolver.ErrLoginRequired) {
		t.Fatalf("err = %v, want login required", err)
	}
	events.Wait(t, resolver.EventLoginRequired)
	data, err := store.Get(context.Background(), "oauth")
	if err != nil {
		t.Fatalf("the record was lost: %v", err)
	}
	if kept, _ := resolver.DecodeRecord(data); kept == nil || !kept.Refresh.IsZero() || kept.Token.Reveal() != "access-token-login-1-xxxxxxxx" {
		t.Fatalf("stored record after login required = %v, want the login with its refresh token cleared", kept)
	}
	calls := src.calls.Load()
	clock.Set(clock.Now().Add(time.Minute)) // past the error TTL: only the dead-token check stops a fetch
	if _, err := r.Resolve(context.Background()); !errors.Is(err, resolver.ErrLoginRequired) {
		t.Fatalf("err = %v", err)
	}
	if n := src.calls.Load(); n != calls {
		t.Fatalf("source called %d more times with a refresh token known dead", n-calls)
	}
	// A new login (here through the store, as another process would) revives
	// it once the dead login's back-off (RetryMax) has passed.
	r2 := newResolver(t, clock, nil, store, p.source("oauth"))
	login(t, r2, p)
	clock.Set(clock.Now().Add(9 * time.Second))
	if _, err := r.Resolve(context.Background()); err != nil {
		t.Fatalf("did not pick up the new login from the store: %v", err)
	}
}

// When another process stored a new login between our read and our refresh
// failure, clearing the dead token (re-read under the lock) keeps the newer
// record.
func TestDeadTokenCASKeepsNewerRecord(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := cache.NewMemory()
	newer, _ := resolver.EncodeRecord(&resolver.Credential{Source: "oauth", Kind: resolver.KindBearer,
		Token: resolver.NewSecret("newer-access-token-xxxx"), Refresh: resolver.NewSecret("rt-newer"), Expiry: t0.Add(3 * time.Hour)}, t0)
	src := &fakeSource{name: "oauth", persistent: true}
	src.fetch = func(_ context.Context, prev *resolver.Credential, _ int) (*resolver.Credential, error) {
		// Another process logs in while our refresh is on the wire.
		_ = store.Set(context.Background(), "oauth", newer)
		return nil, fmt.Errorf("invalid_grant: %w", resolver.ErrLoginRequired)
	}
	r := newResolver(t, clock, nil, store, src)
	if err := r.Store(context.Background(), &resolver.Credential{Source: "oauth", Kind: resolver.KindBearer,
		Token: resolver.NewSecret("old-access-token-xxxxxx"), Refresh: resolver.NewSecret("rt-old"), Expiry: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(2 * time.Hour))
	_, _ = r.Resolve(context.Background())
	data, err := store.Get(context.Background(), "oauth")
	if err != nil {
		t.Fatalf("newer record was deleted: %v", err)
	}
	c, _ := resolver.DecodeRecord(data)
	if c.Refresh.Reveal() != "rt-newer" {
		t.Fatalf("stored refresh token = %q, want rt-newer", c.Refresh.Reveal())
	}
}

// Start-up reads stored records in parallel; a stored, valid credential is
// served without calling the source.
func TestPrefetchServesStoredCredential(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := cache.NewMemory()
	rec, _ := resolver.EncodeRecord(&resolver.Credential{Source: "oauth", Kind: resolver.KindBearer,
		Token: resolver.NewSecret("stored-access-token-xxxx"), Expiry: t0.Add(time.Hour)}, t0)
	_ = store.Set(context.Background(), "oauth", rec)
	src := &fakeSource{name: "oauth", persistent: true, fetch: tokenAt(clock, time.Hour)}
	r := newResolver(t, clock, nil, store, src)
	if c := mustResolve(t, r); c.Token.Reveal() != "stored-access-token-xxxx" {
		t.Fatalf("got %v", c)
	}
	if err := r.Close(); err != nil { // waits for any refresh started
		t.Fatal(err)
	}
	if src.calls.Load() != 0 {
		t.Fatal("source called although a valid credential was stored")
	}
}

// A stored credential that is already inside its refresh window is served
// at once, and one background refresh replaces it.
func TestStaleStoredCredentialIsServedAndRefreshed(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := cache.NewMemory()
	rec, _ := resolver.EncodeRecord(&resolver.Credential{Source: "oauth", Kind: resolver.KindBearer,
		Token: resolver.NewSecret("stored-access-token-xxxx"), Refresh: resolver.NewSecret("rt-stored"), IssuedAt: t0.Add(-57 * time.Minute), Expiry: t0.Add(3 * time.Minute)}, t0)
	_ = store.Set(context.Background(), "oauth", rec)
	src := &fakeSource{name: "oauth", persistent: true, fetch: tokenAt(clock, time.Hour)}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if c := mustResolve(t, r); c.Token.Reveal() != "stored-access-token-xxxx" {
		t.Fatalf("got %v, want the stored credential at once", c)
	}
	if err := r.Close(); err != nil { // waits for the refresh
		t.Fatal(err)
	}
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("fetches = %d, want one background refresh", n)
	}
	if tok := storedToken(t, store, "oauth"); tok != "token-number-0001-abcdefgh" {
		t.Fatalf("stored %q, want the refreshed token", tok)
	}
}

// A damaged record is a store error of its own (not "not logged in") that
// names the backend, and it is left alone.
func TestDamagedRecordIsNotServed(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := cache.NewMemory()
	_ = store.Set(context.Background(), "oauth", []byte("{not json"))
	src := &fakeSource{name: "oauth", persistent: true, fetch: func(context.Context, *resolver.Credential, int) (*resolver.Credential, error) {
		return nil, resolver.NotConfigured("not logged in")
	}}
	r := newResolver(t, clock, nil, store, src)
	_, err := r.Resolve(context.Background())
	if !errors.Is(err, resolver.ErrStoreRead) || !strings.Contains(err.Error(), "store backend memory") {
		t.Fatalf("err = %v; want ErrStoreRead naming the backend", err)
	}
	if src.calls.Load() != 0 {
		t.Fatal("the source was called as if nothing were stored")
	}
	if data, _ := store.Get(context.Background(), "oauth"); string(data) != "{not json" {
		t.Fatal("the damaged record was modified by a failed operation")
	}
}

// countingStore counts reads.
type countingStore struct {
	*cache.Memory
	gets atomic.Int32
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.gets.Add(1)
	return s.Memory.Get(ctx, key)
}

// A stored login below a source that already applies (an environment key)
// is not read at start-up, so a short run never opens the keychain for it;
// it is read when something asks (status).
func TestNoPrefetchBelowAnApplyingSource(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := &countingStore{Memory: cache.NewMemory()}
	rec, _ := resolver.EncodeRecord(&resolver.Credential{Source: "oauth", Kind: resolver.KindBearer,
		Token: resolver.NewSecret("stored-access-token-xxxx"), Expiry: t0.Add(time.Hour)}, t0)
	_ = store.Set(context.Background(), "oauth", rec)
	env := probingSource{staticSource("api-key", "sk-env")}
	oauth := &fakeSource{name: "oauth", persistent: true, fetch: tokenAt(clock, time.Hour)}
	r := newResolver(t, clock, nil, store, env, oauth)
	if c := mustResolve(t, r); c.Source != "api-key" {
		t.Fatalf("got %v", c)
	}
	if n := store.gets.Load(); n != 0 {
		t.Fatalf("store read %d times although a higher source applies", n)
	}
	st := r.Status(context.Background())
	if !st.Sources[1].Configured || store.gets.Load() != 1 {
		t.Fatalf("status did not read the shadowed login: %+v (reads %d)", st.Sources[1], store.gets.Load())
	}
}

// A persistent source whose probe says it does not apply (Bedrock turned
// off, no OAuth settings) is not read from the store at start-up.
func TestNoPrefetchForASourceThatDoesNotApply(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := &countingStore{Memory: cache.NewMemory()}
	off := probingSource{&fakeSource{name: "bedrock", persistent: true, probe: resolver.NotConfigured("CLAUDE_CODE_USE_BEDROCK is not set"), fetch: tokenAt(clock, time.Hour)}}
	on := &fakeSource{name: "oauth", persistent: true, fetch: tokenAt(clock, time.Hour)}
	r := newResolver(t, clock, nil, store, off, on)
	if _, err := r.Resolve(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := store.gets.Load(); n != 2 { // oauth: the prefetch and the read under the lock
		t.Fatalf("store reads = %d, want 2 (none for the source that is off)", n)
	}
}

// watchedSource counts the calls of Probe and Identity, which may read files
// (a federation profile, a Google credentials file).
type watchedSource struct {
	*fakeSource
	probes, identities atomic.Int32
}

func (w *watchedSource) Probe() error     { w.probes.Add(1); return w.probe }
func (w *watchedSource) Identity() string { w.identities.Add(1); return "who=" + w.name }

// TestShortRunCostsNothingBelowTheWinner: resolving an environment key
// computes no identity of a persistent source that does not apply (its
// Identity may read a credentials file) and probes no source below the one
// that applies (its Probe may read a profile file), as the start-up check's
// strace of `credchain token` demands.
func TestShortRunCostsNothingBelowTheWinner(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	off := &watchedSource{fakeSource: &fakeSource{name: "vertex", persistent: true, probe: resolver.NotConfigured("off"), fetch: tokenAt(clock, time.Hour)}}
	env := probingSource{&fakeSource{name: "api-key", fetch: func(context.Context, *resolver.Credential, int) (*resolver.Credential, error) {
		return &resolver.Credential{Kind: resolver.KindAPIKey, Token: resolver.NewSecret("sk-ant-environment-key"), Source: "api-key"}, nil
	}}}
	below := &watchedSource{fakeSource: &fakeSource{name: "federation", probe: resolver.NotConfigured("no profile"), fetch: tokenAt(clock, time.Hour)}}
	stored := &watchedSource{fakeSource: &fakeSource{name: "oauth", persistent: true, fetch: tokenAt(clock, time.Hour)}}
	r := newResolver(t, clock, nil, cache.NewMemory(), off, env, below, stored)
	if _, err := r.Resolve(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := off.identities.Load(); n != 0 {
		t.Errorf("Identity of a source that does not apply called %d times, want 0", n)
	}
	if n := below.probes.Load() + stored.probes.Load() + stored.identities.Load(); n != 0 {
		t.Errorf("sources below the winner probed or keyed %d times, want 0", n)
	}
}

// When the API refuses our credential and the store holds a peer's newer one
// that is merely stale (inside its refresh window, still usable), it is
// adopted rather than spending a token-endpoint call; without a refusal, a
// stale peer credential does not replace our fresh one.
func TestRefusedCredentialAdoptsStalePeerRecord(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := cache.NewMemory()
	src := &fakeSource{name: "oauth", persistent: true, fetch: tokenAt(clock, time.Hour)}
	r := newResolver(t, clock, nil, store, src)
	ours := mustResolve(t, r)
	peer, _ := resolver.EncodeRecord(&resolver.Credential{Source: "oauth", Kind: resolver.KindBearer,
		Token: resolver.NewSecret("peer-access-token-xxxx"), Refresh: resolver.NewSecret("rt-peer"),
		IssuedAt: t0.Add(-58 * time.Minute), Expiry: t0.Add(2 * time.Minute)}, t0)
	if err := store.Set(context.Background(), "oauth", peer); err != nil {
		t.Fatal(err)
	}
	if c := mustResolve(t, r); c != ours {
		t.Fatal("a stale peer record replaced our fresh credential")
	}
	next, err := r.Invalidate(context.Background(), ours)
	if err != nil || next.Token.Reveal() != "peer-access-token-xxxx" {
		t.Fatalf("Invalidate = %v, %v; want the peer's credential adopted", next, err)
	}
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1 (the refusal adopted the peer's credential)", n)
	}
}

// A background refresh of our still-usable credential does not settle for a
// peer's record that is itself already due for refresh: it refreshes (from
// the peer's newer refresh token).
func TestBackgroundRefreshDoesNotAdoptAStalePeerRecord(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := cache.NewMemory()
	var prevs []string
	var mu sync.Mutex
	inner := tokenAt(clock, time.Hour)
	src := &fakeSource{name: "oauth", persistent: true}
	src.fetch = func(ctx context.Context, prev *resolver.Credential, n int) (*resolver.Credential, error) {
		mu.Lock()
		if prev != nil {
			prevs = append(prevs, prev.Refresh.Reveal())
		}
		mu.Unlock()
		return inner(ctx, prev, n)
	}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	mustResolve(t, r)
	peer, _ := resolver.EncodeRecord(&resolver.Credential{Source: "oauth", Kind: resolver.KindBearer,
		Token: resolver.NewSecret("peer-access-token-xxxx"), Refresh: resolver.NewSecret("rt-peer"),
		IssuedAt: t0, Expiry: t0.Add(58 * time.Minute)}, t0) // due for refresh from 53m
	if err := store.Set(context.Background(), "oauth", peer); err != nil {
		t.Fatal(err)
	}
	clock.Advance(55 * time.Minute)   // our refresh time
	if err := r.Close(); err != nil { // waits for the refresh
		t.Fatal(err)
	}
	if n := src.calls.Load(); n != 2 || strings.Join(prevs, ",") != "rt-peer" {
		t.Fatalf("fetches = %d with refresh tokens %v; want a refresh from the peer's rt-peer", n, prevs)
	}
}
