package cache

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credchain/credchain/cache/internal/keyring"
)

// hangingKeyring is a keyring.Keyring whose calls block until release is
// closed, like a locked keychain waiting for a prompt or a hung D-Bus
// service; then it reports not found.
type hangingKeyring struct {
	release chan struct{}
	calls   atomic.Int32
}

func (k *hangingKeyring) wait() error {
	k.calls.Add(1)
	<-k.release
	return keyring.ErrKeyNotFound
}
func (k *hangingKeyring) Get(string) (keyring.Item, error) { return keyring.Item{}, k.wait() }
func (k *hangingKeyring) GetMetadata(string) (keyring.Metadata, error) {
	return keyring.Metadata{}, k.wait()
}
func (k *hangingKeyring) Set(keyring.Item) error  { return k.wait() }
func (k *hangingKeyring) Remove(string) error     { return k.wait() }
func (k *hangingKeyring) Keys() ([]string, error) { return nil, k.wait() }

// within fails the test if f does not return in d: a broken time box must
// fail, not hang the suite.
func within(t *testing.T, d time.Duration, f func() error) error {
	t.Helper()
	c := make(chan error, 1)
	go func() { c <- f() }()
	select {
	case err := <-c:
		return err
	case <-time.After(d):
		t.Fatalf("the call did not return within %v", d)
		return nil
	}
}

func TestTimeBox(t *testing.T) {
	o, err := resolveOptions(Options{Backend: "secret-service", Dir: t.TempDir(), Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	kr := &hangingKeyring{release: make(chan struct{})}
	released := false
	t.Cleanup(func() {
		if !released {
			close(kr.release)
		}
	})
	s := newStore(o, "secret-service", &keyringBackend{kr: kr, o: o}, true)
	ctx := context.Background()

	err = within(t, 10*time.Second, func() error { _, err := s.Get(ctx, "oauth"); return err })
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Get on a hung keyring: %v; want ErrTimeout", err)
	}
	for _, want := range []string{"secret-service", "oauth", "CREDCHAIN_STORE_BACKEND", "unlock"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("timeout error %q does not mention %q", err, want)
		}
	}
	// The first call still hangs inside the backend; the next ones wait for
	// it within their own time box instead of piling onto the keyring.
	err = within(t, 10*time.Second, func() error { return s.Set(ctx, "oauth", []byte("v")) })
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Set behind a hung call: %v; want ErrTimeout", err)
	}
	if n := kr.calls.Load(); n != 1 {
		t.Fatalf("the keyring was called %d times; want 1 (calls are serialised)", n)
	}
	// The caller's context wins over the time box.
	long := newStore(o, "secret-service", &keyringBackend{kr: kr, o: o}, false)
	long.timeout = time.Hour
	cctx, cancel := context.WithCancel(ctx)
	go cancel()
	err = within(t, 10*time.Second, func() error { _, err := long.Get(cctx, "oauth"); return err })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled context: %v; want context.Canceled", err)
	}

	close(kr.release)
	released = true
	s.timeout = 10 * time.Second // only the hung call's release is awaited now
	// Once the backend answers again, its not-found is ErrNotFound.
	err = within(t, 10*time.Second, func() error { _, err := s.Get(ctx, "oauth"); return err })
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after the keyring recovered: %v; want ErrNotFound", err)
	}
}
