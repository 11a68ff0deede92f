package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"strings"
	"time"

	"github.com/credchain/credchain/cache/internal/keyring"
)

// backend is one storage engine without time box, locking or error
// normalisation; store adds those.
type backend interface {
	get(key string) ([]byte, error)
	set(key string, value []byte) error
	del(key string) error
}

// preparer is implemented by backends that need something before a call
// that must not run inside the time box (the file backend's password, which
// may come from a prompt).
type preparer interface {
	prepare(op, key string) error
}

// store is every Open-ed backend but memory: it validates keys, time-boxes
// and (for backends that are not safe for concurrent use) serialises calls,
// normalises not-found errors, and holds the per-key cross-process lock.
type store struct {
	name     string
	dir      string
	timeout  time.Duration
	lockWait time.Duration
	fix      string // what to do when a call times out
	be       backend
	serial   chan struct{} // capacity 1; nil when calls may run concurrently
	locks    keyLocks
	info     map[string]string
}

func newStore(o *options, name string, be backend, serial bool) *store {
	s := &store{
		name: name, dir: o.Dir, timeout: o.Timeout, lockWait: o.LockWait, fix: timeoutFix(name), be: be,
		info: map[string]string{"backend": name, "dir": o.Dir, "service": o.Service},
	}
	if serial {
		s.serial = make(chan struct{}, 1)
	}
	return s
}

func timeoutFix(name string) string {
	const choose = "or choose another backend with store.backend (CREDCHAIN_STORE_BACKEND)"
	switch name {
	case "keychain", "macos-security":
		return "is the keychain locked and waiting for a password? unlock it, " + choose
	case "secret-service", "kwallet":
		return "is the keyring locked or its D-Bus service hung? unlock it, " + choose
	case "pass":
		return "is gpg waiting for a passphrase (pinentry)? unlock the key with gpg-agent, " + choose
	case "file", "plaintext":
		return "is the store directory on a hung file system? set store.dir (CREDCHAIN_STORE_DIR), " + choose
	default:
		return choose
	}
}

// Backend implements Store.
func (s *store) Backend() string { return s.name }

// Describe implements resolver.StoreDescriber: backend, dir, service, the
// backend's own facts and, for auto, which backends were skipped and why.
func (s *store) Describe() map[string]string { return maps.Clone(s.info) }

// Get implements Store.
func (s *store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	v, err := s.call(ctx, "get", key, func() ([]byte, error) { return s.be.get(key) })
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Set implements Store.
func (s *store) Set(ctx context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	v := append([]byte(nil), value...)
	_, err := s.call(ctx, "set", key, func() ([]byte, error) { return nil, s.be.set(key, v) })
	return err
}

// Delete implements Store.
func (s *store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.call(ctx, "delete", key, func() ([]byte, error) { return nil, s.be.del(key) })
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// call runs f within the time box and ctx. A call that times out keeps
// running in the background (a blocked keyring call cannot be interrupted);
// its result is dropped, and for a serialised backend later calls time out
// too until it returns.
func (s *store) call(ctx context.Context, op, key string, f func() ([]byte, error)) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cache: %s: %s %q: %w", s.name, op, key, err)
	}
	if p, ok := s.be.(preparer); ok {
		if err := p.prepare(op, key); err != nil {
			return nil, s.wrap(op, key, err)
		}
	}
	v, err := timeBox(ctx, s.timeout, s.serial, f)
	switch {
	case errors.Is(err, ErrTimeout):
		return nil, fmt.Errorf("cache: %s: %s %q did not finish within %v (%s): %w", s.name, op, key, s.timeout, s.fix, ErrTimeout)
	case err != nil:
		return nil, s.wrap(op, key, err)
	}
	return v, nil
}

func (s *store) wrap(op, key string, err error) error {
	if op != "set" && isNotFound(err) {
		return fmt.Errorf("cache: %s: no record for %q: %w", s.name, key, ErrNotFound)
	}
	if strings.HasPrefix(err.Error(), "cache: ") {
		return err // a backend of this package already said which and why
	}
	return fmt.Errorf("cache: %s: %s %q: %w", s.name, op, key, err)
}

func isNotFound(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, keyring.ErrKeyNotFound) || errors.Is(err, fs.ErrNotExist)
}

// timeBox runs f in a goroutine and waits for it at most d, or until ctx is
// done. With a non-nil serial semaphore, waiting for an earlier call counts
// against the same time box.
func timeBox(ctx context.Context, d time.Duration, serial chan struct{}, f func() ([]byte, error)) ([]byte, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	if serial != nil {
		select {
		case serial <- struct{}{}:
		case <-timer.C:
			return nil, ErrTimeout
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	type result struct {
		v   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: fmt.Errorf("the keyring library panicked: %v", p)}
			}
			if serial != nil {
				<-serial
			}
			done <- r
		}()
		r.v, r.err = f()
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-timer.C:
		return nil, ErrTimeout
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// checkKey keeps keys usable as file names and keyring item names on every
// backend.
func checkKey(key string) error {
	if key == "" || len(key) > 128 || key[0] == '.' {
		return fmt.Errorf("cache: invalid record key %q: use 1-128 letters, digits, '.', '_' or '-', not starting with '.'", key)
	}
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return fmt.Errorf("cache: invalid record key %q: use 1-128 letters, digits, '.', '_' or '-', not starting with '.'", key)
		}
	}
	return nil
}
