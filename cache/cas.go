package cache

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
)

// Update is a read-modify-write of key's record under the store's
// cross-process lock: it takes the lock, reads the record as it is now
// (another process may have changed it since this one last looked), and
// calls f with it (found false when there is none). f returns the record to
// write, or nil to delete it; an error from f aborts without writing.
func Update(ctx context.Context, s Store, key string, f func(current []byte, found bool) ([]byte, error)) error {
	unlock, err := s.Lock(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := s.Get(ctx, key)
	found := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	next, err := f(cur, found)
	if err != nil {
		return err
	}
	if next == nil {
		if !found {
			return nil
		}
		return s.Delete(ctx, key)
	}
	return s.Set(ctx, key, next)
}

// CompareAndSwap replaces key's record with next only if the store still
// holds old (nil old: only if there is no record), under the cross-process
// lock. A nil next deletes the record. It reports whether it swapped. This
// is how a dead refresh token is cleared without destroying a good one
// another process stored meanwhile.
func CompareAndSwap(ctx context.Context, s Store, key string, old, next []byte) (bool, error) {
	swapped := false
	err := Update(ctx, s, key, func(cur []byte, found bool) ([]byte, error) {
		match := found && old != nil && subtle.ConstantTimeCompare(cur, old) == 1 || !found && old == nil
		if !match {
			return nil, errNoSwap
		}
		swapped = true
		return next, nil
	})
	if errors.Is(err, errNoSwap) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cache: compare-and-swap of %q: %w", key, err)
	}
	return swapped, nil
}

var errNoSwap = errors.New("cache: record changed")
