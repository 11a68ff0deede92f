//go:build unix

package cache_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
)

func TestOpenBadOptions(t *testing.T) {
	testenv.Hermetic(t)
	for _, tc := range []struct {
		opts cache.Options
		want string
	}{
		{cache.Options{Backend: "gnome"}, `unknown store backend "gnome"`},
		{cache.Options{Backend: "keyctl", KeyCtlScope: "global"}, `unknown keyctl scope "global"`},
		{cache.Options{Backend: "memory", Timeout: -1}, "negative"},
		{cache.Options{Backend: "memory", Service: "a/b"}, "must not contain"},
		{cache.Options{Backend: "secret-service"}, "no D-Bus session bus"},
	} {
		_, err := cache.Open(context.Background(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("cache.Open(%+v) = %v; want an error containing %q", tc.opts, err, tc.want)
		}
	}
	s := openT(t, cache.Options{Backend: "plaintext", Dir: t.TempDir()})
	for _, key := range []string{"", "../x", ".hidden", "a/b", strings.Repeat("k", 129)} {
		if err := s.Set(context.Background(), key, []byte("v")); err == nil || !strings.Contains(err.Error(), "invalid record key") {
			t.Errorf("Set(%q) = %v; want an invalid key error", key, err)
		}
	}
	// The limits are inclusive: one character, and 128 of every allowed kind.
	for _, key := range []string{"k", strings.Repeat("aZ0._-", 21) + "xy"} {
		if err := s.Set(context.Background(), key, []byte("v")); err != nil {
			t.Errorf("Set(%q) = %v; want it accepted", key, err)
		}
	}
}

func TestBackends(t *testing.T) {
	got := strings.Join(cache.Backends(), ",")
	if got != "auto,keychain,macos-security,wincred,secret-service,kwallet,pass,file,keyctl,plaintext,memory" {
		t.Fatalf("cache.Backends() = %s", got)
	}
}

// TestOpenDoesNotHang: a keyring that never answers (a locked keychain
// waiting for a password prompt) costs Open one time box. Chosen
// explicitly, Open fails with ErrTimeout naming the backend and the fix;
// under auto the backend is skipped with that reason.
func TestOpenDoesNotHang(t *testing.T) {
	testenv.Hermetic(t)
	t.Setenv("PASSWORD_STORE_DIR", t.TempDir())
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	open := func(opts cache.Options) error {
		t.Helper()
		c := make(chan error, 1)
		go func() {
			_, err := cache.OpenHanging(context.Background(), opts, release)
			c <- err
		}()
		select {
		case err := <-c:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Open hangs on a keyring that does not answer")
			return nil
		}
	}
	opts := cache.Options{Backend: "keyctl", Dir: t.TempDir(), Timeout: 100 * time.Millisecond, KeyCtlScope: "process"}
	err := open(opts)
	if !errors.Is(err, cache.ErrTimeout) || !strings.Contains(err.Error(), `"keyctl"`) || !strings.Contains(err.Error(), "CREDCHAIN_STORE_BACKEND") {
		t.Fatalf("explicit keyctl that hangs: %v; want ErrTimeout naming keyctl and the fix", err)
	}
	opts.Backend = "auto"
	err = open(opts)
	if !errors.Is(err, cache.ErrNoBackend) || !strings.Contains(err.Error(), "keyctl: did not answer within 100ms") {
		t.Fatalf("auto with only a hanging keyctl: %v; want ErrNoBackend listing the timeout", err)
	}
}
