package resolver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/credchain/credchain/cache"
)

// state is where a credential is in its life. Transitions are made by
// wall-clock timers (Clock.At), never by the hot path, which reads no clock.
type state uint32

const (
	stateFresh   state = iota // served as is
	stateStale                // served, and one background refresh is started
	stateExpired              // never served; callers wait for one shared fetch
)

// snapshot is what the hot path reads: one immutable value behind an atomic
// pointer. A transition stores a new snapshot.
type snapshot struct {
	cred      *Credential
	state     state
	refreshAt time.Time // zero: never
	rejected  bool      // the API refused cred (see Resolver.Invalidate)
}

type fetchCall struct {
	done chan struct{}
	cred *Credential
	err  error
}

// entry is the scheduler's state for one source.
type entry struct {
	r       *Resolver
	src     Source
	name    string
	persist bool
	// idOnce computes key (the store key: name, and a hash of the identity)
	// and identity (the source's Identity(), "" when it has none) when the
	// record is first needed: an identity may read a credentials file, which
	// a source that does not apply or is shadowed must not cost.
	idOnce   sync.Once
	key      string
	identity string
	loaded   chan struct{} // closed once the stored record is installed
	loading  sync.Once

	snap atomic.Pointer[snapshot]
	// refreshing is true from the moment a background refresh is started
	// until it succeeds, including while a retry is pending, so the hot path
	// starts at most one.
	refreshing atomic.Bool

	mu       sync.Mutex
	call     *fetchCall
	fail     failure
	loadErr  error // the stored record could not be read at start-up
	timer    Timer // backoff retry (monotonic); belongs to fail
	timerGen uint64
	staleAt  Timer // wall-clock transition to stale
	expireAt Timer // wall-clock transition to expired
}

// failure is everything an entry remembers about failed fetches. It is
// forgotten all at once, by resetFailureLocked, when a fetch succeeds, a
// login is stored or the record is logged out.
type failure struct {
	// rejected is the credential the API refused (Invalidate).
	rejected *Credential
	// err is served to blocking callers until until without calling the
	// source, so a failing upstream is not hammered after expiry.
	err   error
	until time.Time
	// count is the number of consecutive failures (the backoff exponent).
	count int
	// last is the newest error, for status.
	last error
	// dead is a login-required or permanent error: the source is not called
	// again until the store changes (or the settings do: another process).
	dead error
	// nextRetry is when the pending backoff timer fires, for status.
	nextRetry time.Time
}

// resetFailureLocked forgets every failure and cancels a pending backoff
// retry, so a retry scheduled before a success or a Store never fires after
// it.
func (e *entry) resetFailureLocked() {
	e.fail = failure{}
	e.loadErr = nil
	e.stopTimerLocked()
}

// get is the hot path: one atomic load, no clock read, no lock.
func (e *entry) get(ctx context.Context) (*Credential, error) {
	if s := e.snap.Load(); s != nil {
		switch s.state {
		case stateFresh:
			return s.cred, nil
		case stateStale:
			e.kick()
			return s.cred, nil
		}
	}
	return e.slow(ctx)
}

// usable reports whether s may be served at now: the wall-clock timers say
// so and, as a second line of defence on the slow path, so does the clock.
func usable(s *snapshot, now time.Time) bool {
	return s != nil && s.state != stateExpired && servable(s.cred, now)
}

// maxExpiryMargin bounds how long before its expiry a credential stops
// being handed out.
const maxExpiryMargin = 10 * time.Second

// usableUntil is when a credential stops being handed out: a little before
// its expiry — a tenth of its life, at most 10 s (x/oauth2's expiryDelta) —
// so a caller is never given a token that dies on the wire. Zero: never.
func usableUntil(c *Credential) time.Time {
	if c.Expiry.IsZero() {
		return time.Time{}
	}
	margin := maxExpiryMargin
	if life := c.Expiry.Sub(c.IssuedAt); !c.IssuedAt.IsZero() && life > 0 {
		margin = min(margin, life/10)
	}
	return c.Expiry.Add(-margin)
}

// servable reports whether c may still be handed out at now.
func servable(c *Credential, now time.Time) bool {
	until := usableUntil(c)
	return until.IsZero() || now.Before(until)
}

// resolveOnce is get preceded by the source's cheap probe, for chain walks.
func (e *entry) resolveOnce(ctx context.Context) (*Credential, error) {
	if p, ok := e.src.(Prober); ok {
		if err := p.Probe(); err != nil {
			if errors.Is(err, ErrNotConfigured) {
				return nil, err
			}
			return nil, &SourceError{Source: e.name, Err: err}
		}
	}
	return e.get(ctx)
}

// kick starts one background refresh of a still-valid credential.
func (e *entry) kick() {
	if e.r.cfg.NoBackgroundRefresh || e.r.closed.Load() {
		return
	}
	if !e.refreshing.CompareAndSwap(false, true) {
		return
	}
	e.mu.Lock()
	e.startCallLocked()
	e.mu.Unlock()
}

func (e *entry) startCallLocked() *fetchCall {
	if e.call != nil {
		return e.call
	}
	c := &fetchCall{done: make(chan struct{})}
	e.call = c
	e.r.inflight.Add(1)
	go e.run(c)
	return c
}

// slow serves callers that found no usable credential: they all wait for
// one shared fetch, each as long as its own ctx allows; a caller giving up
// never cancels the fetch.
func (e *entry) slow(ctx context.Context) (*Credential, error) {
	if e.r.closed.Load() {
		return nil, ErrClosed
	}
	e.startLoad()
	select {
	case <-e.loaded:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if s := e.snap.Load(); usable(s, e.r.clock.Now()) {
		if s.state == stateStale {
			e.kick()
		}
		return s.cred, nil
	}
	e.mu.Lock()
	// A fetch may have finished since the check above; never start a second
	// one for a credential that is already there.
	if s := e.snap.Load(); e.call == nil && usable(s, e.r.clock.Now()) {
		e.mu.Unlock()
		return s.cred, nil
	}
	if e.call == nil && e.fail.err != nil && e.r.clock.Now().Before(e.fail.until) {
		err := e.fail.err
		e.mu.Unlock()
		return nil, err
	}
	c := e.startCallLocked()
	e.mu.Unlock()
	select {
	case <-c.done:
		return c.cred, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run performs one fetch detached from every caller's context and publishes
// the result.
func (e *entry) run(c *fetchCall) {
	defer e.r.inflight.Done()
	ctx := e.r.root
	if !e.persist {
		ctx = e.r.abort // nothing to store: Close does not wait for it
	}
	if d := e.r.cfg.FetchTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	cred, adopted, err := e.fetch(ctx)
	now := e.r.clock.Now()
	if err == nil {
		switch {
		case cred == nil:
			err = errors.New("source returned no credential")
		case !servable(cred, now):
			err = fmt.Errorf("source returned a credential that expires at %s, too soon to use", cred.Expiry.UTC().Format(time.RFC3339))
		}
	}
	var events []Event
	e.mu.Lock()
	e.call = nil
	if err == nil {
		e.resetFailureLocked()
		cred = e.installLocked(cred, now)
		e.refreshing.Store(false)
		kind := EventRefreshed
		if adopted {
			kind = EventAdopted
		}
		events = append(events, Event{Kind: kind, Source: e.name, Expiry: cred.Expiry})
		c.cred = cred
	} else {
		if !isSourceError(err) {
			err = &SourceError{Source: e.name, Err: err}
		}
		c.err = err
		events = e.failedLocked(err, now)
	}
	e.mu.Unlock()
	close(c.done)
	for _, ev := range events {
		e.r.emit(ev)
	}
}

// failedLocked records a failed fetch and decides when the source is asked
// again: a credential that is still valid keeps being served while a retry
// waits out the backoff; without one, the error itself is served for the
// backoff; a dead login or a permanent error is not retried at all until
// the store changes (re-checked, without calling the source, every
// RetryMax).
func (e *entry) failedLocked(err error, now time.Time) []Event {
	var events []Event
	notConfigured := errors.Is(err, ErrNotConfigured)
	loginRequired := errors.Is(err, ErrLoginRequired)
	dead := loginRequired || errors.Is(err, ErrPermanent)
	// A dead login or a permanent error is reported once, not at every
	// re-check of the store.
	report := !notConfigured && (!dead || e.fail.dead == nil && !loginRequired)
	if dead {
		if e.fail.dead == nil && loginRequired {
			events = append(events, Event{Kind: EventLoginRequired, Source: e.name, Err: err})
		}
		e.fail.dead = err
	}
	if !notConfigured {
		e.fail.count++
		e.fail.last = err
	}
	delay := e.backoff(err)
	if dead {
		delay = e.r.cfg.RetryMax
	}
	s := e.snap.Load()
	switch {
	case usable(s, now) && !notConfigured && !dead && s.cred.Expiry.IsZero() && !s.cred.RefreshAt.IsZero():
		// A key that does not expire: keep it for another TTL rather than
		// re-running a failing helper at every backoff step.
		bumped := *s.cred
		bumped.IssuedAt = now
		bumped.RefreshAt = now.Add(max(s.cred.RefreshAt.Sub(s.cred.IssuedAt), e.r.cfg.RetryMin))
		e.installLocked(&bumped, now)
		e.refreshing.Store(false)
		e.fail.nextRetry = bumped.RefreshAt
		events = append(events, Event{Kind: EventRefreshFailed, Source: e.name, Err: err, Attempt: e.fail.count, NextRetry: e.fail.nextRetry})
	case usable(s, now) && !notConfigured:
		// refreshing stays set until the retry fires: the hot path starts
		// nothing meanwhile, also for a dead login.
		if until := usableUntil(s.cred); !until.IsZero() {
			delay = min(delay, until.Sub(now))
		}
		e.fail.nextRetry = now.Add(delay)
		e.armLocked(delay, e.retry)
		if report {
			events = append(events, Event{Kind: EventRefreshFailed, Source: e.name, Err: err, Attempt: e.fail.count, NextRetry: e.fail.nextRetry, Expiry: s.cred.Expiry})
		}
	default:
		e.fail.err = err
		e.fail.until = now.Add(max(delay, e.r.cfg.ErrorTTL))
		e.refreshing.Store(false)
		if report {
			events = append(events, Event{Kind: EventRefreshFailed, Source: e.name, Err: err, Attempt: e.fail.count})
		}
	}
	return events
}

func isSourceError(err error) bool {
	var se *SourceError
	return errors.As(err, &se)
}

// backoff is capped exponential with ±20% jitter, and at least a server's
// Retry-After.
func (e *entry) backoff(err error) time.Duration { return e.backoffFor(err, e.fail.count) }

func (e *entry) backoffFor(err error, failures int) time.Duration {
	d := e.r.cfg.RetryMin
	for i := 1; i < failures && d < e.r.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, e.r.cfg.RetryMax)
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	var ra RetryAfter
	if errors.As(err, &ra) && ra.RetryAfter() > d {
		d = ra.RetryAfter()
	}
	return d
}

// retry fires when a failed background refresh's backoff has elapsed.
func (e *entry) retry() {
	e.refreshing.Store(false)
	if usable(e.snap.Load(), e.r.clock.Now()) {
		e.kick()
	}
}

// normalize fills in what the scheduler owns (source name, issue time) on a
// copy, because a source may return a credential it has handed out before.
func (e *entry) normalize(cred *Credential, now time.Time) *Credential {
	if cred.Source == e.name && !cred.IssuedAt.IsZero() {
		return cred
	}
	c := *cred
	c.Source = e.name
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	return &c
}

// refreshTime is when a refresh of c should start.
func (e *entry) refreshTime(c *Credential) time.Time {
	if !c.RefreshAt.IsZero() {
		if until := usableUntil(c); !until.IsZero() && until.Before(c.RefreshAt) {
			return until
		}
		return c.RefreshAt
	}
	if c.Expiry.IsZero() {
		return time.Time{}
	}
	life := c.Expiry.Sub(c.IssuedAt)
	if c.IssuedAt.IsZero() || life <= 0 {
		return c.Expiry.Add(-e.r.window)
	}
	if life < 2*e.r.window {
		return c.IssuedAt.Add(life / 2)
	}
	return c.Expiry.Add(-e.r.window)
}

// installLocked publishes cred in the state its times give and arms the
// wall-clock timers of its next transitions.
func (e *entry) installLocked(cred *Credential, now time.Time) *Credential {
	cred = e.normalize(cred, now)
	at := e.refreshTime(cred)
	st := stateFresh
	if !at.IsZero() && !now.Before(at) {
		st = stateStale
	}
	if !servable(cred, now) {
		st = stateExpired
	}
	snap := &snapshot{cred: cred, state: st, refreshAt: at}
	e.snap.Store(snap)
	e.stopWallTimersLocked()
	if st == stateFresh && !at.IsZero() {
		e.staleAt = e.r.clock.At(at, func() { e.transition(cred, stateStale) })
	}
	if until := usableUntil(cred); st != stateExpired && !until.IsZero() {
		e.expireAt = e.r.clock.At(until, func() { e.transition(cred, stateExpired) })
	}
	return cred
}

// transition moves the published snapshot of cred forward to st; a timer
// for a credential that has since been replaced does nothing.
func (e *entry) transition(cred *Credential, st state) {
	if e.r.closed.Load() {
		return
	}
	e.mu.Lock()
	cur := e.snap.Load()
	moved := cur != nil && cur.cred == cred && cur.state < st
	if moved {
		next := *cur
		next.state = st
		e.snap.Store(&next)
	}
	e.mu.Unlock()
	// Refresh proactively only what expires. A key that merely has a TTL (an
	// API-key helper's) is re-run when it is next used, as Claude Code does,
	// so an idle program does not run (and perhaps prompt through) a helper
	// every TTL.
	if moved && st == stateStale && !cred.Expiry.IsZero() {
		e.kick()
	}
}

func (e *entry) stopWallTimersLocked() {
	if e.staleAt != nil {
		e.staleAt.Stop()
		e.staleAt = nil
	}
	if e.expireAt != nil {
		e.expireAt.Stop()
		e.expireAt = nil
	}
}

func (e *entry) armLocked(d time.Duration, f func()) {
	e.stopTimerLocked()
	if e.r.closed.Load() {
		return
	}
	e.timerGen++
	gen := e.timerGen
	e.timer = e.r.clock.AfterFunc(max(d, 0), func() {
		e.mu.Lock()
		current := gen == e.timerGen
		e.mu.Unlock()
		if current && !e.r.closed.Load() {
			f()
		}
	})
}

func (e *entry) stopTimerLocked() {
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	e.timerGen++
}

func (e *entry) stopTimer() {
	e.mu.Lock()
	e.stopTimerLocked()
	e.stopWallTimersLocked()
	e.mu.Unlock()
}

// startLoad reads the stored record once, in the background: from the
// start-up prefetch when it was part of it, else from the store now.
func (e *entry) startLoad() {
	if !e.persist {
		return
	}
	e.loading.Do(func() { go e.load() })
}

// load installs the stored record, if any.
func (e *entry) load() {
	defer close(e.loaded)
	var data []byte
	var err error
	if e.r.prefetch != nil && e.r.prefetch.Has(e.storeKey()) {
		data, err = e.r.prefetch.Wait(e.r.root, e.storeKey())
	} else {
		data, err = e.r.cfg.Store.Get(e.r.root, e.storeKey())
	}
	if errors.Is(err, cache.ErrNotFound) {
		e.migrateLegacy()
		return
	}
	var cred *Credential
	if err == nil {
		cred, _, err = decodeRecord(data)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		// Not "not logged in": fetch re-reads the record under the lock and
		// fails with this error unless the store has recovered.
		e.loadErr = &StoreReadError{Backend: e.r.cfg.Store.Backend(), Err: err}
		e.fail.last = fmt.Errorf("%s: %w", e.name, e.loadErr)
		return
	}
	if e.snap.Load() == nil {
		e.installLocked(cred, e.r.clock.Now())
	}
}

// migrateLegacy adopts a record stored under the source's bare name by a
// credchain that did not key records by identity, when the source says it
// belongs to the current identity: it is copied under the identity's key
// (the old record stays until logout).
func (e *entry) migrateLegacy() {
	m, ok := e.src.(LegacyMatcher)
	if !ok || e.storeKey() == e.name {
		return
	}
	ctx := e.r.root
	st := e.r.cfg.Store
	data, err := st.Get(ctx, e.name)
	if err != nil {
		return
	}
	cred, _, err := decodeRecord(data)
	if err != nil || !m.Matches(cred) {
		return
	}
	unlock, err := st.Lock(ctx, e.storeKey())
	if err != nil {
		return
	}
	defer unlock()
	if _, err := st.Get(ctx, e.storeKey()); !errors.Is(err, cache.ErrNotFound) {
		return // written meanwhile, or unreadable: not ours to replace
	}
	now := e.r.clock.Now()
	if e.write(ctx, cred, now, nil) != nil {
		return
	}
	e.mu.Lock()
	if e.snap.Load() == nil {
		e.installLocked(cred, now)
	}
	e.mu.Unlock()
}

// readStore reads and decodes this source's record; a missing record is
// (nil, nil, nil). A record that exists but cannot be read is a
// *StoreReadError.
func (e *entry) readStore(ctx context.Context) (*Credential, *record, error) {
	st := e.r.cfg.Store
	data, err := st.Get(ctx, e.storeKey())
	if errors.Is(err, cache.ErrNotFound) {
		return nil, nil, nil
	}
	if err == nil {
		var c *Credential
		var rec *record
		if c, rec, err = decodeRecord(data); err == nil {
			return c, rec, nil
		}
	}
	return nil, nil, &StoreReadError{Backend: st.Backend(), Err: err}
}

// write stores cred (with the failure f, if any) as this source's record.
// It is not cancelled with ctx (Abort, a caller giving up): what the source
// returned is written whole; the store's time box bounds it.
func (e *entry) write(ctx context.Context, cred *Credential, now time.Time, f *failureRecord) error {
	ctx = context.WithoutCancel(ctx)
	data, err := encodeRecord(cred, now, e.storeIdentity(), f)
	if err == nil {
		err = e.r.cfg.Store.Set(ctx, e.storeKey(), data)
	}
	if err != nil {
		return fmt.Errorf("writing the store: %w", err)
	}
	return nil
}

// fetch asks the source for a new credential. For a persistent source it
// holds the store's cross-process lock, re-reads the record, adopts a
// credential another process already refreshed (or the failure another
// process saw), and writes what the source returned before it is handed
// out.
func (e *entry) fetch(ctx context.Context) (cred *Credential, adopted bool, err error) {
	e.mu.Lock()
	var prev *Credential
	if s := e.snap.Load(); s != nil {
		prev = s.cred
	}
	rejected, dead, failures := e.fail.rejected, e.fail.dead, e.fail.count
	e.mu.Unlock()
	if !e.persist {
		cred, err := e.src.Fetch(ctx, prev)
		return cred, false, err
	}
	st := e.r.cfg.Store
	lockCtx := ctx
	if prev != nil && rejected == nil && servable(prev, e.r.clock.Now()) {
		// A process that still holds a usable credential never waits for
		// another's refresh: it keeps serving and retries later.
		lockCtx = cache.NoWait(ctx)
	}
	unlock, err := st.Lock(lockCtx, e.storeKey())
	if err != nil {
		return nil, false, fmt.Errorf("taking the store lock: %w", err)
	}
	defer unlock()
	now := e.r.clock.Now()
	stored, rec, rerr := e.readStore(ctx)
	if rerr != nil {
		e.r.emit(Event{Kind: EventStoreFailed, Source: e.name, Err: rerr})
		if prev == nil {
			// Never "not logged in", and nothing is written over it.
			return nil, false, rerr
		}
	}
	// The record this process cleared after its refresh token was refused
	// (same access token, no refresh token) is no new login: it must not
	// lift the dead-login stop.
	cleared := dead != nil && prev != nil && stored != nil && stored.Refresh.IsZero() && stored.Token.Equal(prev.Token)
	if stored != nil && !cleared && !stored.SameSecret(prev) && !stored.SameSecret(rejected) {
		fresh := now.Before(e.refreshTime(stored))
		// Adopt a peer's credential that is still fresh; also one that is
		// merely stale when ours is refused, gone or expired (refreshing it
		// again would only cost a token-endpoint call).
		if servable(stored, now) && (fresh || rejected != nil || prev == nil || !servable(prev, now)) {
			return stored, true, nil
		}
		prev = stored
		dead = nil
	}
	if dead != nil {
		return nil, false, dead
	}
	if rec != nil && rec.Failure != nil {
		if f := rec.Failure; f.Dead || f.Permanent || now.Before(f.Until) {
			return nil, false, &sharedFailureError{f: *f, now: now}
		}
	}
	cred, err = e.src.Fetch(ctx, prev)
	var keep *KeepError
	if errors.As(err, &keep) && keep.Keep != nil {
		// A rotated refresh token is written before anything else is done
		// with the answer: the old one is already spent.
		k := e.normalize(keep.Keep, now)
		if werr := e.write(ctx, k, now, nil); werr != nil {
			e.r.emit(Event{Kind: EventStoreFailed, Source: e.name, Err: werr})
		} else {
			stored, prev = k, k
		}
	}
	if err != nil {
		if errors.Is(err, ErrLoginRequired) {
			e.clearDeadRefresh(ctx, prev, now, err)
		} else if stored != nil && !errors.Is(err, ErrNotConfigured) {
			e.shareFailure(ctx, stored, now, err, failures)
		}
		return nil, false, err
	}
	if cred == nil {
		return nil, false, nil
	}
	cred = e.normalize(cred, now)
	if werr := e.write(ctx, cred, now, nil); werr != nil {
		e.r.emit(Event{Kind: EventStoreFailed, Source: e.name, Err: werr})
	}
	return cred, false, nil
}

// shareFailure records err in the stored record (still held under the
// lock), so other processes waiting for the lock, or starting during the
// backoff, get the error instead of repeating the same request.
func (e *entry) shareFailure(ctx context.Context, stored *Credential, now time.Time, err error, failures int) {
	f := &failureRecord{Error: err.Error(), At: now.UTC(), PID: os.Getpid(), Permanent: errors.Is(err, ErrPermanent)}
	f.Until = now.Add(max(e.backoffFor(err, failures+1), e.r.cfg.ErrorTTL)).UTC()
	_ = e.write(ctx, stored, now, f)
}

// sharedFailureError is a failure another process (or an earlier run) saw
// for the stored record, replayed without calling the source again.
type sharedFailureError struct {
	f   failureRecord
	now time.Time
}

func (e *sharedFailureError) Error() string {
	when := "until the login is renewed (credchain login)"
	if e.f.Permanent {
		when = "until the settings or the stored login change"
	} else if !e.f.Dead {
		when = "before " + e.f.Until.Local().Format(time.TimeOnly)
	}
	return fmt.Sprintf("%s (seen by credchain pid %d %s ago; not retried %s)",
		e.f.Error, e.f.PID, e.now.Sub(e.f.At).Round(time.Second), when)
}

func (e *sharedFailureError) Is(target error) bool {
	return target == ErrLoginRequired && e.f.Dead || target == ErrPermanent && e.f.Permanent
}

// RetryAfter implements RetryAfter: the rest of the recorded backoff.
func (e *sharedFailureError) RetryAfter() time.Duration {
	return max(e.f.Until.Sub(e.now), 0)
}

// clearDeadRefresh removes a refresh token the provider refused, but only if
// the store still holds that same token: the record is re-read here, so a
// login stored meanwhile (even by a writer that ignores the lock) survives.
// The rest of the record stays: a still-valid access token keeps being
// served, and every later run reports "login required" (not "not logged
// in") with the login's details intact.
func (e *entry) clearDeadRefresh(ctx context.Context, prev *Credential, now time.Time, why error) {
	if prev == nil || prev.Refresh.IsZero() {
		return
	}
	current, _, err := e.readStore(ctx)
	if err != nil || current == nil || !current.Refresh.Equal(prev.Refresh) {
		return
	}
	kept := *current
	kept.Refresh = Secret{}
	if n := RecordNoter(nil); errors.As(why, &n) {
		kept.Meta = maps.Clone(kept.Meta)
		if kept.Meta == nil {
			kept.Meta = map[string]string{}
		}
		maps.Copy(kept.Meta, n.RecordMeta())
	}
	f := &failureRecord{Error: why.Error(), At: now.UTC(), Until: now.UTC(), PID: os.Getpid(), Dead: true}
	_ = e.write(ctx, &kept, now, f)
}

// invalidate handles an API's refusal of cred; see Resolver.Invalidate.
func (e *entry) invalidate(ctx context.Context, cred *Credential) (*Credential, error) {
	e.mu.Lock()
	if s := e.snap.Load(); s != nil && !s.rejected && !s.cred.SameSecret(cred) {
		e.mu.Unlock()
		return e.get(ctx)
	}
	e.fail.rejected = cred
	e.snap.Store(&snapshot{cred: cred, state: stateExpired, rejected: true})
	e.stopTimerLocked()
	e.stopWallTimersLocked()
	e.fail.err = nil
	c := e.startCallLocked()
	e.mu.Unlock()
	select {
	case <-c.done:
		return c.cred, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// store saves a credential obtained outside the scheduler (a login). A
// record that exists but cannot be read is not replaced unless force.
func (e *entry) store(ctx context.Context, cred *Credential, force bool) error {
	now := e.r.clock.Now()
	cred = e.normalize(cred, now)
	if e.persist {
		unlock, err := e.r.cfg.Store.Lock(ctx, e.storeKey())
		if err != nil {
			return fmt.Errorf("%s: taking the store lock: %w", e.name, err)
		}
		if !force {
			if _, _, rerr := e.readStore(ctx); rerr != nil {
				unlock()
				return fmt.Errorf("%s: not replacing the stored record: %w", e.name, rerr)
			}
		}
		err = e.write(ctx, cred, now, nil)
		unlock()
		if err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
	}
	e.mu.Lock()
	e.resetFailureLocked()
	e.installLocked(cred, now)
	e.refreshing.Store(false)
	stale := e.snap.Load().state == stateStale
	e.mu.Unlock()
	if stale && !cred.Expiry.IsZero() {
		e.kick()
	}
	return nil
}

// logout revokes (where possible) and deletes the stored record.
func (e *entry) logout(ctx context.Context) (removed bool, err error) {
	st := e.r.cfg.Store
	unlock, err := st.Lock(ctx, e.storeKey())
	if err != nil {
		return false, fmt.Errorf("%s: taking the store lock: %w", e.name, err)
	}
	defer unlock()
	stored, _, rerr := e.readStore(ctx)
	var errs []error
	if rv, ok := e.src.(Revoker); ok && stored != nil {
		if err := rv.Revoke(ctx, stored); err != nil {
			errs = append(errs, fmt.Errorf("%s: revoke: %w", e.name, err))
		}
	}
	if err := st.Delete(ctx, e.storeKey()); err != nil {
		errs = append(errs, fmt.Errorf("%s: deleting the stored record: %w", e.name, err))
	}
	e.mu.Lock()
	e.snap.Store(nil)
	e.resetFailureLocked()
	e.stopWallTimersLocked()
	e.mu.Unlock()
	return stored != nil || rerr != nil, errors.Join(errs...)
}

// deleteKey removes the record of another identity of this source, under
// that record's lock.
func (e *entry) deleteKey(ctx context.Context, key string) error {
	st := e.r.cfg.Store
	unlock, err := st.Lock(ctx, key)
	if err != nil {
		return fmt.Errorf("%s: taking the store lock of %s: %w", e.name, key, err)
	}
	defer unlock()
	if err := st.Delete(ctx, key); err != nil {
		return fmt.Errorf("%s: deleting the stored record %s: %w", e.name, key, err)
	}
	return nil
}

// storeKey is the key of e's record in the store.
func (e *entry) storeKey() string {
	e.idOnce.Do(e.computeKey)
	return e.key
}

// storeIdentity is the identity e's record belongs to.
func (e *entry) storeIdentity() string {
	e.idOnce.Do(e.computeKey)
	return e.identity
}

func (e *entry) computeKey() {
	if !e.persist {
		e.key = e.name
		return
	}
	e.identity, e.key = storeKey(e.src)
}
