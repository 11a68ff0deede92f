//go:build unix

package cache_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
)

// TestStoreDirMustBeTrusted: a store directory others can write is refused
// with the command that fixes it (another owner: TestStoreDirOwnedByAnother,
// integration tier, as root).
func TestStoreDirMustBeTrusted(t *testing.T) {
	testenv.Hermetic(t)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"world writable", func(t *testing.T, dir string) { chmod(t, dir, 0o777) }, "chmod go-w"},
		{"group writable", func(t *testing.T, dir string) { chmod(t, dir, 0o770) }, "chmod go-w"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			tc.setup(t, dir)
			_, err := cache.Open(context.Background(), cache.Options{Backend: "plaintext", Dir: dir})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("open: %v; want a refusal saying %q", err, tc.want)
			}
		})
	}
}

func chmod(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

// TestLeftoversRemovedAtOpen: a temporary file a killed writer left (it
// may hold a cleartext record) is removed by the next open, at once; one a
// live writer holds is not.
func TestLeftoversRemovedAtOpen(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	openT(t, cache.Options{Backend: "plaintext", Dir: dir})
	sub := filepath.Join(dir, "plaintext")
	dead := filepath.Join(sub, ".tmp-oauth.json-123")
	live := filepath.Join(sub, ".tmp-oauth.json-456")
	staging := filepath.Join(sub, ".staging-789")
	for _, p := range []string{dead, live} {
		if err := os.WriteFile(p, []byte(`{"token":"cleartext"}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(staging, 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	openT(t, cache.Options{Backend: "plaintext", Dir: dir})
	for _, p := range []string{dead, staging} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s survived the next open: %v", filepath.Base(p), err)
		}
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live writer's temporary file was removed: %v", err)
	}
}
