package cache

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/credchain/credchain/cache/internal/keyring"
)

// ItemName is the keyring item name of key for a store on dir (default
// service), for tests that look for a record in the real keyring.
func ItemName(dir, key string) string {
	o, err := resolveOptions(Options{Dir: dir})
	if err != nil {
		panic(err)
	}
	return o.itemName(key)
}

// OpenBroken opens like Open, except that backend name fails to open with
// reason, as when a platform refuses it (keyctl under a container's
// seccomp profile).
func OpenBroken(ctx context.Context, opts Options, name, reason string) (Store, error) {
	o, err := resolveOptions(opts)
	if err != nil {
		return nil, err
	}
	cands := defaultCandidates()
	for i := range cands {
		if cands[i].name == name {
			cands[i].open = func(context.Context, *options, string) (*store, error) {
				return nil, errors.New(reason)
			}
		}
	}
	return open(ctx, o, cands)
}

// OpenHanging opens like Open, except that the keyring behind every
// 99designs backend (keyctl, on Linux, is the one registered without a bus)
// blocks on every call until release is closed, like a locked keychain
// waiting for a password prompt.
func OpenHanging(ctx context.Context, opts Options, release chan struct{}) (Store, error) {
	o, err := resolveOptions(opts)
	if err != nil {
		return nil, err
	}
	o.openKeyring = func(keyring.Config) (keyring.Keyring, error) {
		return &hangingKeyring{release: release}, nil
	}
	return open(ctx, o, defaultCandidates())
}

// AssertNoTemporaries fails if dir holds a dot file: a temporary file or a
// staging directory a writer left behind may hold a cleartext record.
func AssertNoTemporaries(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Fatalf("%s left behind in %s", e.Name(), dir)
		}
	}
}
