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
