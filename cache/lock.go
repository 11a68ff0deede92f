package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// lockPoll is how often a waiting Lock retries the file lock.
const lockPoll = 10 * time.Millisecond

// DefaultLockWait bounds how long Lock waits for another process's lock
// when Options.LockWait is zero. It is below the OAuth token request
// timeout (30 s), so a waiter gives up no later than a stuck holder's own
// request would.
const DefaultLockWait = 20 * time.Second

// ErrLockBusy is matched by the error of Lock when the lock is held by
// another process (or goroutine) and the wait ended: the bound elapsed, or
// the context was marked with NoWait. The error is a *LockHeldError.
var ErrLockBusy = errors.New("cache: the store lock is held")

// LockHeldError names who holds a store lock and since when.
type LockHeldError struct {
	Key  string
	Path string
	// PID and Since are what the holder wrote into the lock file (0 and the
	// zero time when it is in this process or wrote nothing yet).
	PID    int
	Since  time.Time
	Waited time.Duration
	// Err is the context's error when the caller's context ended the wait.
	Err error
}

func (e *LockHeldError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cache: the lock of %q (%s) is held", e.Key, e.Path)
	switch {
	case e.PID == os.Getpid():
		b.WriteString(" by this process")
	case e.PID != 0:
		fmt.Fprintf(&b, " by credchain pid %d", e.PID)
	}
	if !e.Since.IsZero() {
		fmt.Fprintf(&b, " for %v", time.Since(e.Since).Round(time.Millisecond))
	}
	if e.Waited > 0 {
		fmt.Fprintf(&b, "; gave up after waiting %v", e.Waited.Round(time.Millisecond))
	}
	if e.PID != 0 && e.PID != os.Getpid() {
		fmt.Fprintf(&b, " (a stuck or stopped process? `kill %d` frees it)", e.PID)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is matches ErrLockBusy.
func (e *LockHeldError) Is(target error) bool { return target == ErrLockBusy }

// Unwrap returns the context's error, if the context ended the wait.
func (e *LockHeldError) Unwrap() error { return e.Err }

type noWaitKey struct{}

// NoWait returns a context under which Lock does not wait: a lock held
// elsewhere fails at once with ErrLockBusy. The resolver uses it when it
// still holds a usable credential, so it never waits on another process's
// refresh.
func NoWait(ctx context.Context) context.Context {
	return context.WithValue(ctx, noWaitKey{}, true)
}

func noWait(ctx context.Context) bool {
	v, _ := ctx.Value(noWaitKey{}).(bool)
	return v
}

// keyLocks is one in-process semaphore per key. It is needed besides the
// file lock: flock belongs to an open file description, and two goroutines
// must exclude each other even where the platform's lock is per process.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func (l *keyLocks) get(key string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]chan struct{}{}
	}
	ch, ok := l.m[key]
	if !ok {
		ch = make(chan struct{}, 1)
		l.m[key] = ch
	}
	return ch
}

// Lock implements Store: an in-process lock, then an exclusive lock on
// <Dir>/locks/<key>.lock (opened without following a symlink) shared with
// every process using the same store directory. The holder writes its pid
// and the time into the file. Waiting is bounded by Options.LockWait and
// ctx (none at all under NoWait); the error then names the holder and how
// long it has held the lock. The returned function releases both locks and
// may be called more than once.
func (s *store) Lock(ctx context.Context, key string) (func(), error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	path := filepath.Join(s.dir, "locks", key+".lock")
	start := time.Now()
	wait := s.lockWait
	if noWait(ctx) {
		wait = 0
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	busy := func(err error) error {
		pid, since := readHolder(path)
		return &LockHeldError{Key: key, Path: path, PID: pid, Since: since, Waited: time.Since(start), Err: err}
	}
	sem := s.locks.get(key)
	select {
	case sem <- struct{}{}:
	default:
		select {
		case sem <- struct{}{}:
		case <-timer.C:
			return nil, busy(nil)
		case <-ctx.Done():
			return nil, busy(ctx.Err())
		}
	}
	release := func() { <-sem }
	dir := filepath.Join(s.dir, "locks")
	if err := prepareDir(s.dir, dir); err != nil {
		release()
		return nil, fmt.Errorf("cache: lock directory %s: %w", dir, err)
	}
	f, err := openLockFile(path)
	if err != nil {
		release()
		return nil, fmt.Errorf("cache: lock file %s: %w", path, err)
	}
	for {
		ok, err := tryLockFile(f)
		if err != nil {
			_ = f.Close()
			release()
			return nil, fmt.Errorf("cache: locking %s: %w", path, err)
		}
		if ok {
			break
		}
		var cause error
		select {
		case <-time.After(lockPoll):
			continue
		case <-timer.C:
		case <-ctx.Done():
			cause = ctx.Err()
		}
		_ = f.Close()
		release()
		return nil, busy(cause)
	}
	writeHolder(f)
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = f.Close() // closing the descriptor releases the lock
			release()
		})
	}, nil
}

// writeHolder records this process as the holder: "pid <n> since <time>".
func writeHolder(f *os.File) {
	line := "pid " + strconv.Itoa(os.Getpid()) + " since " + time.Now().UTC().Format(time.RFC3339Nano) + "\n"
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(line), 0)
	}
}

// readHolder reads what the holder wrote; zero values when unknown.
func readHolder(path string) (pid int, since time.Time) {
	f, err := openLockFile(path)
	if err != nil {
		return 0, time.Time{}
	}
	defer f.Close()
	buf := make([]byte, 128)
	n, _ := f.ReadAt(buf, 0)
	fields := strings.Fields(string(buf[:n]))
	if len(fields) == 4 && fields[0] == "pid" && fields[2] == "since" {
		pid, _ = strconv.Atoi(fields[1])
		since, _ = time.Parse(time.RFC3339Nano, fields[3])
	}
	return pid, since
}
