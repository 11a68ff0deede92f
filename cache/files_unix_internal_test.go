//go:build unix

package cache

import (
	"context"
	"os"
	"testing"
)

// A Set of the encrypted file backend holds a lock on its staging directory
// (so that a concurrent open does not remove it) and releases it when done:
// the lock is an open descriptor, and a writer that kept it would run out
// of descriptors in a long-lived process that refreshes every hour.
func TestFileStoreSetReleasesItsStagingLock(t *testing.T) {
	s := openFileStore(t, "file", t.TempDir(), osFS{})
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("warm-up")); err != nil {
		t.Fatal(err)
	}
	before := openDescriptors(t)
	const writes = 20
	for range writes {
		if err := s.Set(ctx, "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if grown := openDescriptors(t) - before; grown >= writes/2 {
		t.Fatalf("%d writes left %d more descriptors open", writes, grown)
	}
}

func openDescriptors(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/dev/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}
