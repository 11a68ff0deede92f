package testenv

import (
	"context"
	"testing"

	"github.com/credchain/credchain/resolver"
)

// NewResolver builds a resolver from cfg, failing the test on an error,
// and closes it when the test ends.
func NewResolver(t testing.TB, cfg resolver.Config) *resolver.Resolver {
	t.Helper()
	r, err := resolver.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("resolver.New: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// ResolveWith builds a resolver from cfg, closed when the test ends, and
// returns its first credential (failing the test on an error): one
// process's view of a shared store, for tests that run several with
// different settings.
func ResolveWith(t testing.TB, cfg resolver.Config) *resolver.Credential {
	t.Helper()
	cred, err := NewResolver(t, cfg).Resolve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cred
}
