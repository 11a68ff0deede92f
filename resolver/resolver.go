package resolver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/credchain/credchain/cache"
)

// DefaultRefreshWindow is how long before expiry a credential is refreshed,
// as in Claude Code.
const DefaultRefreshWindow = 5 * time.Minute

// Config configures a Resolver. The config package builds one from settings.
type Config struct {
	// Sources in priority order; names must be unique.
	Sources []Source
	// Store is the shared store for Persistent sources; nil keeps nothing
	// across processes.
	Store cache.Store
	// RefreshWindow is how long before expiry a refresh starts
	// (DefaultRefreshWindow when zero).
	RefreshWindow time.Duration
	// Clock defaults to the system clock.
	Clock Clock
	// OnEvent, when set, is called for every Event (from the goroutine that
	// caused it; it must not block for long).
	OnEvent func(Event)
	// Logger, when set, receives every Event as a log record.
	Logger *slog.Logger
	// NoBackgroundRefresh serves a stale (still valid) credential without
	// starting a refresh. For short-lived processes such as `credchain
	// token`, which could not finish a refresh they started.
	NoBackgroundRefresh bool
	// Signers sign requests for kinds that are not a plain header
	// (KindAWS); see Transport.
	Signers map[Kind]Signer
	// RejectionPolicy says, per kind, which HTTP statuses mean the API
	// refused a credential (Transport and Watch then call Invalidate). A
	// kind it does not list keeps the default described at RejectionPolicy.
	RejectionPolicy RejectionPolicy
	// RetryMin and RetryMax bound the exponential backoff of failed
	// background refreshes (defaults 1s and 1m, with ±20% jitter).
	RetryMin, RetryMax time.Duration
	// ErrorTTL is how long the error of a failed blocking fetch is remembered
	// and returned to further callers without calling the source again
	// (default 2s), so a failing upstream is not hammered.
	ErrorTTL time.Duration
	// FetchTimeout bounds one fetch (default: none; sources bound their
	// own calls).
	FetchTimeout time.Duration
	// CloseTimeout bounds how long Close waits for in-flight refreshes of
	// persistent sources to be stored (default 10s). A fetch with nothing to
	// store (an API-key helper run) is cancelled at once by Close.
	CloseTimeout time.Duration
}

// Resolver resolves the chain and keeps every source's credential fresh.
type Resolver struct {
	cfg      Config
	clock    Clock
	window   time.Duration
	entries  []*entry
	byName   map[string]*entry
	winner   atomic.Pointer[entry]
	prefetch *cache.Prefetch
	root     context.Context
	cancel   context.CancelFunc
	// abort is cancelled as soon as Close starts: it bounds the fetches of
	// sources that store nothing, which Close does not wait for.
	abort       context.Context
	cancelAbort context.CancelFunc
	closed      atomic.Bool
	inflight    sync.WaitGroup
	// closeOnce makes every Close wait for the first one to finish.
	closeOnce sync.Once
	closeErr  error
}

// New validates cfg, starts reading every persistent source's stored record
// in parallel, and returns at once.
func New(ctx context.Context, cfg Config) (*Resolver, error) {
	if len(cfg.Sources) == 0 {
		return nil, errors.New("resolver: no sources in the chain")
	}
	if cfg.RefreshWindow < 0 {
		return nil, fmt.Errorf("resolver: refresh window %v is negative", cfg.RefreshWindow)
	}
	if cfg.RefreshWindow == 0 {
		cfg.RefreshWindow = DefaultRefreshWindow
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock()
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Minute
	}
	if cfg.ErrorTTL <= 0 {
		cfg.ErrorTTL = 2 * time.Second
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = 10 * time.Second
	}
	root, cancel := context.WithCancel(context.WithoutCancel(ctx))
	abort, cancelAbort := context.WithCancel(root)
	r := &Resolver{cfg: cfg, clock: cfg.Clock, window: cfg.RefreshWindow, byName: map[string]*entry{}, root: root, cancel: cancel, abort: abort, cancelAbort: cancelAbort}
	var keys []string
	// Prefetch only what could win: once a source that reads the
	// environment applies (an API key, a descriptor), stored records below
	// it are read only if something asks for them, so a short run never
	// opens a keychain (or prompts for it) for a login it will not use.
	shadowed := false
	for _, s := range cfg.Sources {
		name := s.Name()
		if name == "" {
			cancel()
			return nil, errors.New("resolver: a source has an empty name")
		}
		if _, dup := r.byName[name]; dup {
			cancel()
			return nil, fmt.Errorf("resolver: source %q appears twice in the chain", name)
		}
		e := &entry{r: r, src: s, name: name, loaded: make(chan struct{})}
		if p, ok := s.(Persistent); ok && p.Persistent() && cfg.Store != nil {
			e.persist = true
			// A source that says it does not apply (Bedrock turned off, no
			// OAuth settings) is not prefetched either.
			applies := !shadowed
			if p, ok := s.(Prober); ok && applies {
				applies = p.Probe() == nil
			}
			if applies {
				keys = append(keys, e.storeKey())
			}
		} else {
			close(e.loaded)
			// Below a source that applies nothing is probed: a probe may
			// read a profile file (federation) that a short run must not cost.
			if p, ok := s.(Prober); ok && !shadowed && p.Probe() == nil {
				shadowed = true
			}
		}
		r.entries = append(r.entries, e)
		r.byName[name] = e
	}
	if len(keys) > 0 {
		r.prefetch = cache.StartPrefetch(root, cfg.Store, keys)
		for _, e := range r.entries {
			if e.persist && slices.Contains(keys, e.storeKey()) {
				e.startLoad()
			}
		}
	}
	return r, nil
}

// Resolve returns the credential to send now, from the highest configured
// source. Once a source has won, Resolve on its fresh credential is one
// atomic load: no lock, no allocation, no clock read (timers move a
// credential to stale and expired). After Close it returns ErrClosed.
func (r *Resolver) Resolve(ctx context.Context) (*Credential, error) {
	if e := r.winner.Load(); e != nil {
		return e.get(ctx)
	}
	return r.walk(ctx)
}

func (r *Resolver) walk(ctx context.Context) (*Credential, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	var reasons []SourceReason
	for _, e := range r.entries {
		cred, err := e.resolveOnce(ctx)
		if err == nil {
			r.winner.CompareAndSwap(nil, e)
			// Close clears the winner; never set it again behind Close.
			if r.closed.Load() {
				r.winner.Store(nil)
				return nil, ErrClosed
			}
			return cred, nil
		}
		if errors.Is(err, ErrNotConfigured) {
			reasons = append(reasons, SourceReason{Source: e.name, Reason: Reason(err)})
			continue
		}
		return nil, err
	}
	return nil, &NoSourceError{Reasons: reasons}
}

// Check reports, without fetching anything, a chain that cannot produce a
// credential: when every source says through its Probe (see Prober) that
// it does not apply, it returns a *NoSourceError (matching ErrNoSource and
// ErrPermanent) that lists each source and why. A source without a Probe,
// or one that applies, makes Check return nil; so does a source whose
// Probe fails for another reason, which Resolve then reports. Call it
// after New to fail at start-up rather than on the first request.
func (r *Resolver) Check() error {
	var reasons []SourceReason
	for _, e := range r.entries {
		p, ok := e.src.(Prober)
		if !ok {
			return nil
		}
		err := p.Probe()
		if err == nil || !errors.Is(err, ErrNotConfigured) {
			return nil
		}
		reasons = append(reasons, SourceReason{Source: e.name, Reason: Reason(err)})
	}
	return &NoSourceError{Reasons: reasons}
}

// Active returns the name of the source that won the chain, or "" before
// the first successful Resolve.
func (r *Resolver) Active() string {
	if e := r.winner.Load(); e != nil {
		return e.name
	}
	return ""
}

// Sources returns the chain's sources in order.
func (r *Resolver) Sources() []Source {
	out := make([]Source, len(r.entries))
	for i, e := range r.entries {
		out[i] = e.src
	}
	return out
}

// Invalidate reports that the API refused cred (an HTTP 401). Concurrent
// calls for the same credential share one recovery: for a persistent source
// the store is re-read first (another process may have refreshed), else the
// source is asked for a new credential with cred as prev. It returns the
// credential to retry with, which may be the same secret if the source has
// nothing newer (an environment key).
func (r *Resolver) Invalidate(ctx context.Context, cred *Credential) (*Credential, error) {
	if cred == nil {
		return nil, errors.New("resolver: invalidate: nil credential")
	}
	if r.closed.Load() {
		return nil, ErrClosed
	}
	e, ok := r.byName[cred.Source]
	if !ok {
		return nil, fmt.Errorf("resolver: invalidate: unknown source %q", cred.Source)
	}
	return e.invalidate(ctx, cred)
}

// Store saves a credential obtained outside the scheduler (a fresh login)
// for the named persistent source: written to the store under its lock, then
// served from memory with its refresh timer armed. A stored record that
// exists but cannot be read (wrong password, damaged, newer format) is not
// replaced: the error matches ErrStoreRead; see Replace.
func (r *Resolver) Store(ctx context.Context, cred *Credential) error {
	e, ok := r.byName[cred.Source]
	if !ok {
		return fmt.Errorf("resolver: store: unknown source %q", cred.Source)
	}
	return e.store(ctx, cred, false)
}

// Replace is Store that also replaces a stored record it cannot read
// (`credchain login --force`).
func (r *Resolver) Replace(ctx context.Context, cred *Credential) error {
	e, ok := r.byName[cred.Source]
	if !ok {
		return fmt.Errorf("resolver: replace: unknown source %q", cred.Source)
	}
	return e.store(ctx, cred, true)
}

// Stored returns the named persistent source's stored record for the
// identity the settings name: nil when there is none, an error matching
// ErrStoreRead when it exists but cannot be read.
func (r *Resolver) Stored(ctx context.Context, name string) (*Credential, error) {
	e, ok := r.byName[name]
	if !ok || !e.persist {
		return nil, fmt.Errorf("resolver: %q is not a persistent source of the chain", name)
	}
	c, _, err := e.readStore(ctx)
	if err != nil {
		return nil, &SourceError{Source: name, Err: err}
	}
	return c, nil
}

// Logout removes what credchain stored for the named sources (every
// persistent source when none is named) under the identity the current
// settings name, revoking first where the source can. It returns the names
// of the records removed.
func (r *Resolver) Logout(ctx context.Context, names ...string) ([]string, error) {
	return r.logout(ctx, false, names)
}

// LogoutAll is Logout that also removes the records the named sources keep
// for other identities (another AWS profile, another OAuth client), where
// the store can list its records (cache.Lister). Records of other
// identities are deleted without revoking. Each removed record is named
// "source" or "source (key)" for another identity.
func (r *Resolver) LogoutAll(ctx context.Context, names ...string) ([]string, error) {
	return r.logout(ctx, true, names)
}

func (r *Resolver) logout(ctx context.Context, all bool, names []string) ([]string, error) {
	var targets []*entry
	if len(names) == 0 {
		for _, e := range r.entries {
			if e.persist {
				targets = append(targets, e)
			}
		}
	} else {
		for _, n := range names {
			e, ok := r.byName[n]
			if !ok {
				return nil, fmt.Errorf("logout: unknown source %q", n)
			}
			if !e.persist {
				return nil, fmt.Errorf("logout: source %q stores nothing (its credential comes from the environment or a descriptor)", n)
			}
			targets = append(targets, e)
		}
	}
	var keys []string
	if all && len(targets) > 0 {
		// A store that cannot list (macos-security) keeps other
		// identities' records; the current one is removed all the same.
		if ls, ok := r.cfg.Store.(cache.Lister); ok {
			var err error
			if keys, err = ls.Keys(ctx); err != nil {
				return nil, fmt.Errorf("logout: listing the stored records: %w", err)
			}
		}
	}
	var removed []string
	var errs []error
	for _, e := range targets {
		ok, err := e.logout(ctx)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			removed = append(removed, e.name)
		}
		r.winner.CompareAndSwap(e, nil)
		for _, k := range keys {
			if k == e.storeKey() || (k != e.name && !strings.HasPrefix(k, e.name+".")) {
				continue
			}
			if err := e.deleteKey(ctx, k); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, e.name+" ("+k+")")
		}
	}
	return removed, errors.Join(errs...)
}

// Abort cancels in-flight fetches at once — a helper command's process
// group is killed, a token request abandoned — and closes the resolver, for
// a program that must stop now (a signal). An answer that has already
// arrived is still stored: a rotated refresh token is never dropped.
func (r *Resolver) Abort() {
	r.cancel()
	_ = r.Close()
}

// Close stops the refresh timers and waits, up to Config.CloseTimeout, for
// refreshes of persistent sources already in flight to be stored, so a
// rotated refresh token is never lost by a process ending. Fetches with
// nothing to store are cancelled at once (an API-key helper's process
// group is ended). Afterwards Resolve, Invalidate and the Transport return
// ErrClosed. Concurrent and later calls wait for the first to finish and
// return its result.
func (r *Resolver) Close() error {
	r.closeOnce.Do(func() { r.closeErr = r.close() })
	return r.closeErr
}

func (r *Resolver) close() error {
	r.closed.Store(true)
	// The hot path reads only the winner: without one, Resolve walks the
	// chain and sees closed.
	r.winner.Store(nil)
	r.cancelAbort()
	for _, e := range r.entries {
		e.stopTimer()
	}
	done := make(chan struct{})
	go func() { r.inflight.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-time.After(r.cfg.CloseTimeout):
		err = fmt.Errorf("resolver: close: a refresh was still running after %v", r.cfg.CloseTimeout)
	}
	r.cancel()
	return err
}

// storeKey is the key of s's record: its name alone when it has no
// identity, else the name and a hash of the identity, so every identity the
// settings can name has a record of its own.
func storeKey(s Source) (identity, key string) {
	id, ok := s.(Identifier)
	if !ok {
		return "", s.Name()
	}
	identity = id.Identity()
	if identity == "" {
		return "", s.Name()
	}
	sum := sha256.Sum256([]byte(identity))
	return identity, s.Name() + "." + hex.EncodeToString(sum[:8])
}

// StoreKey returns the key under which the resolver stores s's record.
func StoreKey(s Source) string {
	_, key := storeKey(s)
	return key
}
