package resolver

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotConfigured is returned (wrapped, with the reason) by a source that
// does not apply: its variable is unset, nothing is stored. The chain moves
// on to the next source only on this error.
var ErrNotConfigured = errors.New("not configured")

// ErrNoSource is matched by the error Resolve returns when no source in the
// chain is configured.
var ErrNoSource = errors.New("no credential source is configured")

// ErrLoginRequired is returned (wrapped) when the stored login can no longer
// be refreshed (the refresh token was refused) and a person must log in
// again. The resolver clears the dead refresh token from the store, only if
// the store still holds that same token.
var ErrLoginRequired = errors.New("login required")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("resolver: closed")

// NotConfigured returns an error that wraps ErrNotConfigured with a reason,
// e.g. NotConfigured("ANTHROPIC_API_KEY is not set").
func NotConfigured(format string, args ...any) error {
	return &notConfiguredError{reason: fmt.Sprintf(format, args...)}
}

type notConfiguredError struct{ reason string }

func (e *notConfiguredError) Error() string { return e.reason }
func (e *notConfiguredError) Is(target error) bool {
	return target == ErrNotConfigured
}

// SourceError is a failure of a configured source; it names the source.
type SourceError struct {
	Source string
	Err    error
}

func (e *SourceError) Error() string { return e.Source + ": " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// SourceReason is why one source did not apply.
type SourceReason struct {
	Source string
	Reason string
}

// NoSourceError lists every source of the chain and why it did not apply.
type NoSourceError struct {
	Reasons []SourceReason
}

func (e *NoSourceError) Error() string {
	var b strings.Builder
	b.WriteString(ErrNoSource.Error())
	b.WriteString("; tried, in order:")
	for _, r := range e.Reasons {
		b.WriteString("\n  ")
		b.WriteString(r.Source)
		b.WriteString(": ")
		b.WriteString(r.Reason)
	}
	return b.String()
}

// Is matches ErrNoSource and ErrPermanent: retrying cannot configure a
// source.
func (e *NoSourceError) Is(target error) bool { return target == ErrNoSource || target == ErrPermanent }

// RetryAfter is implemented by errors that carry a server's Retry-After; the
// scheduler waits at least that long before retrying.
type RetryAfter interface {
	RetryAfter() time.Duration
}

// Reason extracts the human reason from a not-configured error.
func Reason(err error) string {
	var nc *notConfiguredError
	if errors.As(err, &nc) {
		return nc.reason
	}
	return err.Error()
}

// ErrPermanent is matched by errors that retrying cannot fix. A source
// wraps it when the provider refused the client (invalid_client,
// unauthorized_client) or answered 200 with something that is not a token
// response: the scheduler does not call the source again for that record
// until the settings or the stored record change. The Transport marks its
// own such errors with it (nothing configured, login required, resolver
// closed, no Signer for the kind) so an HTTP client's retry logic can give
// up at once (the anthropicsdk integration does).
var ErrPermanent = errors.New("not retried until the settings or the stored login change")

// ErrStoreRead is matched by the error of a source whose stored record
// exists but cannot be read: a wrong file-store password, a damaged record,
// a record of a newer credchain, a locked or hung keychain. It is never
// "not logged in", and the record is left as it is.
var ErrStoreRead = errors.New("the stored record cannot be read")

// StoreReadError is a failed read of a source's stored record; it names the
// backend and the reason and matches ErrStoreRead.
type StoreReadError struct {
	Backend string
	Err     error
}

func (e *StoreReadError) Error() string {
	return fmt.Sprintf("the stored record cannot be read (store backend %s): %v; fix the store, or run `credchain login --force` to replace the record", e.Backend, e.Err)
}

// Unwrap returns the store's error.
func (e *StoreReadError) Unwrap() error { return e.Err }

// Is matches ErrStoreRead.
func (e *StoreReadError) Is(target error) bool { return target == ErrStoreRead }

// KeepError is returned by a source whose upstream answered with something
// that must be kept although no usable credential came with it: a rotated
// refresh token next to an expired or empty access token. The resolver
// writes Keep to the store (under the lock, before anything else) and then
// treats Err as the fetch's failure.
type KeepError struct {
	Keep *Credential
	Err  error
}

func (e *KeepError) Error() string { return e.Err.Error() }

// Unwrap returns the failure.
func (e *KeepError) Unwrap() error { return e.Err }

// Identifier is implemented by persistent sources whose stored record
// belongs to one identity among several the settings can name (an AWS
// profile or role, a Google credential file and impersonation target, an
// OAuth issuer and client). The record is stored under the source's name
// and a hash of Identity, so a change of settings never serves another
// identity's record. Identity is human-readable, holds no secret, and is
// shown by status.
type Identifier interface {
	Identity() string
}

// LegacyMatcher is implemented by an Identifier whose records were stored
// under its bare name before records were keyed by identity (an OAuth
// login). When the identity's record is missing, the resolver reads the
// old one and, if Matches says it belongs to the current identity, copies
// it under the new key, so upgrading credchain does not cost a login.
type LegacyMatcher interface {
	Matches(stored *Credential) bool
}
