// Package cache is credchain's one shared credential store: the OS keychain
// through github.com/99designs/keyring, an encrypted or (only when chosen
// explicitly) plaintext file, or memory; with time-boxed calls, start-up
// prefetch of every record in parallel, and a cross-process lock per record.
//
// The store holds opaque bytes per key (the resolver writes one versioned
// JSON record per source); it never interprets them.
package cache

import (
	"context"
	"errors"
)

// ErrNotFound is returned by Get when the key has no record.
var ErrNotFound = errors.New("cache: no stored record")

// ErrTimeout is returned when a backend call does not finish in its time box
// (a locked keychain waiting for a prompt, a hung D-Bus service).
var ErrTimeout = errors.New("cache: store did not answer in time")

// ErrTooLarge is returned by Set when a record exceeds what the backend can
// hold (the Windows Credential Manager's 2,560 bytes); nothing is written.
var ErrTooLarge = errors.New("cache: record too large for the backend")

// Store is a key-value store for credential records.
type Store interface {
	// Backend names the backend in use ("secret-service", "file", ...).
	Backend() string
	// Get returns the record for key or an error matching ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set replaces the record for key. File backends write atomically, so
	// a crash leaves the old or the new record, never a torn one.
	Set(ctx context.Context, key string, value []byte) error
	// Delete removes the record; deleting a missing record is not an error.
	Delete(ctx context.Context, key string) error
	// Lock takes the cross-process lock for key and returns the function
	// that releases it. It honours ctx while waiting, waits at most
	// Options.LockWait (not at all under NoWait), and then fails with an
	// error matching ErrLockBusy that names the holder.
	Lock(ctx context.Context, key string) (unlock func(), err error)
}
