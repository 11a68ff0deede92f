package cache

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// lockPoll is how often a waiting Lock retries the file lock.
const lockPoll = 10 * time.Millisecond

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

// Lock implements Store: an in-process lock, then an exclusive flock on
// <Dir>/locks/<key>.lock shared with every process using the same store
// directory. Waiting honours ctx; the returned function releases both and
// may be called more than once.
func (s *store) Lock(ctx context.Context, key string) (func(), error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	sem := s.locks.get(key)
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("cache: waiting for the lock of %q (held in this process): %w", key, ctx.Err())
	}
	release := func() { <-sem }
	dir := filepath.Join(s.dir, "locks")
	if err := prepareDir(s.dir, dir); err != nil {
		release()
		return nil, fmt.Errorf("cache: lock directory %s: %w", dir, err)
	}
	fl := flock.New(filepath.Join(dir, key+".lock"), flock.SetPermissions(0o600))
	ok, err := fl.TryLockContext(ctx, lockPoll)
	if !ok || err != nil {
		_ = fl.Close()
		release()
		if err == nil {
			err = errors.New("not acquired")
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("cache: waiting for the lock of %q (%s is held by another process): %w", key, fl.Path(), err)
		}
		return nil, fmt.Errorf("cache: locking %s: %w", fl.Path(), err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = fl.Close()
			release()
		})
	}, nil
}
