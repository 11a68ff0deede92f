package cache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/credchain/credchain/cache/internal/keyring"
)

// fakePass puts an executable named pass (a shell script that does
// nothing) alone on PATH.
func fakePass(t *testing.T) {
	t.Helper()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "pass"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
}

// initPassStore makes dir look like a store `pass init` made.
func initPassStore(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gpg-id"), []byte("ABCDEF\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// passStore finds the store where pass itself looks: PASSWORD_STORE_DIR
// when set, else ~/.password-store; and refuses when the pass program is
// missing or the store was never initialised.
func TestPassStore(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup returns the directory passStore must return, or "" when
		// it must fail with an error containing wantErr.
		setup   func(t *testing.T, home, envDir string) string
		wantErr string
	}{
		{
			name: "PASSWORD_STORE_DIR wins over the home store",
			setup: func(t *testing.T, home, envDir string) string {
				fakePass(t)
				initPassStore(t, filepath.Join(home, ".password-store"))
				initPassStore(t, envDir)
				t.Setenv("PASSWORD_STORE_DIR", envDir)
				return envDir
			},
		},
		{
			name: "home store when PASSWORD_STORE_DIR is unset",
			setup: func(t *testing.T, home, envDir string) string {
				fakePass(t)
				initPassStore(t, filepath.Join(home, ".password-store"))
				initPassStore(t, envDir)
				t.Setenv("PASSWORD_STORE_DIR", "")
				return filepath.Join(home, ".password-store")
			},
		},
		{
			name: "PASSWORD_STORE_DIR not initialised",
			setup: func(t *testing.T, home, envDir string) string {
				fakePass(t)
				initPassStore(t, filepath.Join(home, ".password-store"))
				t.Setenv("PASSWORD_STORE_DIR", envDir)
				return ""
			},
			wantErr: "no initialised password store at ",
		},
		{
			name: "pass not installed",
			setup: func(t *testing.T, home, envDir string) string {
				t.Setenv("PATH", t.TempDir())
				initPassStore(t, envDir)
				t.Setenv("PASSWORD_STORE_DIR", envDir)
				return ""
			},
			wantErr: "the pass program is not installed",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home, envDir := t.TempDir(), filepath.Join(t.TempDir(), "store")
			t.Setenv("HOME", home)
			// Relative to a directory with a store of its own, so that a
			// store looked for in the working directory is found there.
			cwd := t.TempDir()
			initPassStore(t, cwd)
			t.Chdir(cwd)
			want := tc.setup(t, home, envDir)

			got, err := passStore()
			switch {
			case want == "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("passStore() = %q, %v; want an error containing %q", got, err, tc.wantErr)
			case want != "" && (err != nil || got != want):
				t.Fatalf("passStore() = %q, %v; want %q", got, err, want)
			}
		})
	}
}

// tidKeyring is a keyring.Keyring in memory that records the OS thread of
// each call. The probe read fails with probeErr when set, or finds an item
// when probeFound.
type tidKeyring struct {
	*keyring.ArrayKeyring
	probeErr   error
	probeFound bool
	mu         sync.Mutex
	tids       map[int]bool
}

func (k *tidKeyring) record() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.tids[syscall.Gettid()] = true
}

func (k *tidKeyring) Get(key string) (keyring.Item, error) {
	k.record()
	if strings.HasSuffix(key, "/.probe") {
		switch {
		case k.probeErr != nil:
			return keyring.Item{}, k.probeErr
		case k.probeFound:
			return keyring.Item{Key: key, Data: []byte("another program's")}, nil
		}
	}
	return k.ArrayKeyring.Get(key)
}

func (k *tidKeyring) Set(it keyring.Item) error {
	k.record()
	return k.ArrayKeyring.Set(it)
}

// openFake opens backend name through openKeyringBackend with kr in place
// of the real keyring (so neither keyctl nor D-Bus is used).
func openFake(t *testing.T, name, scope string, kr *tidKeyring) (*store, error) {
	t.Helper()
	o, err := resolveOptions(Options{Backend: name, Dir: t.TempDir(), KeyCtlScope: scope})
	if err != nil {
		t.Fatal(err)
	}
	o.openKeyring = func(keyring.Config) (keyring.Keyring, error) {
		kr.record()
		return kr, nil
	}
	return openKeyringBackend(context.Background(), o, name)
}

func newTidKeyring() *tidKeyring {
	return &tidKeyring{ArrayKeyring: keyring.NewArrayKeyring(nil), tids: map[int]bool{}}
}

// The kernel keeps the process and thread keyrings in one thread's
// credentials, so keyctl with scope "process" or "thread" runs every call
// (open, probe, reads and writes) on one locked OS thread; the other scopes
// and the other backends need no thread of their own.
func TestKeyctlProcessAndThreadScopesOwnAThread(t *testing.T) {
	for _, tc := range []struct {
		backend, scope string
		ownThread      bool
	}{
		{"keyctl", "process", true},
		{"keyctl", "thread", true},
		{"keyctl", "user", false},
		{"keyctl", "usersession", false},
		{"keyctl", "session", false},
		{"file", "process", false}, // registered everywhere; stands for any other backend
		{"file", "thread", false},
	} {
		t.Run(tc.backend+"/"+tc.scope, func(t *testing.T) {
			kr := newTidKeyring()
			s, err := openFake(t, tc.backend, tc.scope, kr)
			if err != nil {
				t.Fatal(err)
			}
			be := s.be.(*keyringBackend)
			if got := be.thread != nil; got != tc.ownThread {
				t.Fatalf("own OS thread: %v; want %v", got, tc.ownThread)
			}
			if !tc.ownThread {
				return
			}
			// Calls from other goroutines all land on the one thread.
			ctx := context.Background()
			var wg sync.WaitGroup
			for _, key := range []string{"a", "b", "c"} {
				wg.Go(func() {
					if err := s.Set(ctx, key, []byte(key)); err != nil {
						t.Error(err)
					}
					if _, err := s.Get(ctx, key); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if len(kr.tids) != 1 {
				t.Fatalf("calls ran on %d OS threads; want 1", len(kr.tids))
			}
		})
	}
}

// Opening a keyring backend proves it answers with a read of an item that
// should not exist: not found, or found (another program stored it), is an
// answer; any other failure means the backend does not work and Open must
// say so rather than hand out a store whose every call will fail.
func TestKeyringProbeReadFailureFailsOpen(t *testing.T) {
	broken := errors.New("keyring is locked")
	for _, tc := range []struct {
		name       string
		probeErr   error
		probeFound bool
		wantOpen   bool
	}{
		{"probe item missing", nil, false, true},
		{"probe item present", nil, true, true},
		{"probe read fails", broken, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, scope := range []string{"user", "process"} { // with and without a thread
				kr := newTidKeyring()
				kr.probeErr, kr.probeFound = tc.probeErr, tc.probeFound
				_, err := openFake(t, "keyctl", scope, kr)
				switch {
				case tc.wantOpen && err != nil:
					t.Fatalf("scope %s: %v; want the backend opened", scope, err)
				case !tc.wantOpen && (!errors.Is(err, broken) || !strings.Contains(err.Error(), "probe read failed")):
					t.Fatalf("scope %s: %v; want a probe read failure wrapping %q", scope, err, broken)
				}
			}
		})
	}
}

// What Open sets up per backend besides the keyring itself: only wincred
// has a size limit (the Windows blob limit), so keyctl and pass keep an AWS
// session record of any size; pass serialises its writes (each one is a
// git commit in the password store); and the status says how long a keyctl
// record lives.
func TestKeyringBackendSetUpPerBackend(t *testing.T) {
	large := make([]byte, 2*winCredMaxBlob)
	for _, tc := range []struct {
		backend, scope string
		serialWrites   bool
		persistent     string
	}{
		{"keyctl", "user", false, "until reboot"},
		{"keyctl", "session", false, "no: the session keyring ends with it"},
		{"pass", "", true, ""},
	} {
		t.Run(tc.backend+"/"+tc.scope, func(t *testing.T) {
			if tc.backend == "pass" {
				fakePass(t)
				dir := filepath.Join(t.TempDir(), "password-store")
				initPassStore(t, dir)
				t.Setenv("PASSWORD_STORE_DIR", dir)
			}
			s, err := openFake(t, tc.backend, tc.scope, newTidKeyring())
			if err != nil {
				t.Fatal(err)
			}
			if be := s.be.(*keyringBackend); (be.writes != nil) != tc.serialWrites {
				t.Errorf("writes serialised: %v; want %v", be.writes != nil, tc.serialWrites)
			}
			if err := s.Set(context.Background(), "aws", large); err != nil {
				t.Errorf("Set of a %d-byte record: %v; want it stored (no size limit here)", len(large), err)
			}
			if got := s.Describe()["persistent"]; got != tc.persistent {
				t.Errorf("status persistent = %q; want %q", got, tc.persistent)
			}
		})
	}
}
