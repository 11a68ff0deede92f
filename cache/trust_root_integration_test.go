//go:build integration && unix

package cache_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
)

// TestStoreDirOwnedByAnother: a store directory another user owns is
// refused, naming the owner. Giving a directory away needs root, which
// .ci/run has; run elsewhere, the test fails rather than skip.
func TestStoreDirOwnedByAnother(t *testing.T) {
	testenv.Hermetic(t)
	if os.Getuid() != 0 {
		t.Fatal("this test gives a directory to another user and needs root (run it as .ci/run does)")
	}
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	_, err := cache.Open(context.Background(), cache.Options{Backend: "plaintext", Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "owned by uid 4242") {
		t.Fatalf("open: %v; want a refusal naming uid 4242", err)
	}
}
