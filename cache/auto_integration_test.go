//go:build unix && integration

package cache_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
)

// TestAutoNothingAvailable: no session bus (TestMain), no password store, no
// file password, and keyctl refused as in a container whose seccomp profile
// blocks it: cache.Open fails, says what it tried and how to choose, and creates
// no plaintext file.
func TestAutoNothingAvailable(t *testing.T) {
	testenv.Hermetic(t)
	t.Setenv("PASSWORD_STORE_DIR", t.TempDir())
	dir := filepath.Join(t.TempDir(), "store")
	s, err := cache.OpenBroken(context.Background(), cache.Options{Dir: dir}, "keyctl",
		`accessing "user" keyring failed: operation not permitted`)
	if err == nil {
		t.Fatalf("auto opened %q with nothing available", s.Backend())
	}
	t.Logf("the error:\n%v", err)
	if !errors.Is(err, cache.ErrNoBackend) {
		t.Fatalf("error %v does not match ErrNoBackend", err)
	}
	for _, want := range []string{
		"keychain", "wincred", "secret-service: no D-Bus session bus", "kwallet", "pass: no initialised password store",
		"file: no password", "keyctl: accessing", "CREDCHAIN_FILE_PASSWORD", "store.backend: plaintext",
		"CREDCHAIN_STORE_BACKEND=plaintext", dir,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not mention %q:\n%v", want, err)
		}
	}
	if strings.Index(err.Error(), "secret-service") > strings.Index(err.Error(), "keyctl") {
		t.Errorf("backends are not listed in auto order:\n%v", err)
	}
	// Nothing at all was written: certainly no plaintext record.
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("auto left %s behind", p)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(dir, "plaintext")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("auto created the plaintext directory (stat: %v)", err)
	}
}

// TestAutoOrder: with only the kernel keyring, auto picks keyctl and says
// what it skipped; with a file password set, the persistent encrypted file
// comes first.
func TestAutoOrder(t *testing.T) {
	testenv.Hermetic(t)
	itest.KeyCtl(t)
	t.Setenv("PASSWORD_STORE_DIR", t.TempDir())
	dir := t.TempDir()

	s := openT(t, cache.Options{Dir: dir, KeyCtlScope: "process"})
	if s.Backend() != "keyctl" {
		t.Fatalf("auto picked %q; want keyctl", s.Backend())
	}
	d := s.(interface{ Describe() map[string]string }).Describe()
	if d["selected"] != "auto" || !strings.Contains(d["auto_skipped"], "secret-service") ||
		!strings.Contains(d["auto_skipped"], "file: no password") || d["keyctl_scope"] != "process" {
		t.Fatalf("Describe() = %v", d)
	}
	if d["auto_tried"] != strings.Join(triedOnLinux, ", ") {
		t.Errorf("auto_tried = %q", d["auto_tried"])
	}
	t.Logf("Describe() = %v", d)
	roundTrip(t, s, nil)

	t.Setenv(cache.FilePasswordEnv, "pw")
	if s := openT(t, cache.Options{Dir: dir, KeyCtlScope: "process"}); s.Backend() != "file" {
		t.Fatalf("auto picked %q with %s set; want file", s.Backend(), cache.FilePasswordEnv)
	}
	if _, err := os.Stat(filepath.Join(dir, "plaintext")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("auto created the plaintext directory (stat: %v)", err)
	}
}

// triedOnLinux is every backend auto considers on Linux up to keyctl.
var triedOnLinux = []string{"keychain", "macos-security", "wincred", "secret-service", "kwallet", "pass", "file", "keyctl"}
