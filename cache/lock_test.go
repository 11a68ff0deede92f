//go:build unix

package cache_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
)

// TestLockAcrossProcesses: while a child process holds the lock of a key,
// this process's Lock waits and gives up at its deadline; once the child
// releases it, Lock succeeds. The two sides synchronise over pipes.
func TestLockAcrossProcesses(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	s := openT(t, cache.Options{Backend: "plaintext", Dir: dir})

	child, stdin, out, stderr := startChild(t, "lock-holder", "CACHE_TEST_DIR="+dir)
	expect := func(want string) {
		t.Helper()
		if line, err := out.ReadString('\n'); err != nil || line != want+"\n" {
			t.Fatalf("child said %q, %v; want %q (stderr: %s)", line, err, want, stderr.String())
		}
	}
	expect("locked")

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	unlock, err := s.Lock(ctx, "oauth")
	cancel()
	if err == nil {
		unlock()
		t.Fatal("Lock succeeded while another process held the lock")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while held elsewhere: %v; want a context.DeadlineExceeded", err)
	}
	// Another key is not affected.
	other, err := s.Lock(context.Background(), "bedrock")
	if err != nil {
		t.Fatalf("Lock of another key: %v", err)
	}
	other()

	if _, err := stdin.Write([]byte("release\n")); err != nil {
		t.Fatal(err)
	}
	expect("released")
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	unlock, err = s.Lock(ctx, "oauth")
	if err != nil {
		t.Fatalf("Lock after the other process released it: %v", err)
	}
	unlock()
	unlock() // a second call is harmless
	_ = stdin.Close()
	if err := child.Wait(); err != nil {
		t.Fatalf("child: %v: %s", err, stderr.String())
	}
}

// TestLockInProcess: two goroutines, and two stores opened on one
// directory in one process, exclude each other too.
func TestLockInProcess(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	s1 := openT(t, cache.Options{Backend: "plaintext", Dir: dir})
	s2 := openT(t, cache.Options{Backend: "plaintext", Dir: dir})
	unlock, err := s1.Lock(context.Background(), "oauth")
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]cache.Store{"same store": s1, "second store": s2} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		u, err := s.Lock(ctx, "oauth")
		cancel()
		if err == nil {
			u()
			t.Fatalf("%s: Lock succeeded while the lock was held", name)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: %v; want context.DeadlineExceeded", name, err)
		}
	}

	acquired := make(chan func())
	go func() {
		u, err := s2.Lock(context.Background(), "oauth")
		if err != nil {
			t.Error(err)
			close(acquired)
			return
		}
		acquired <- u
	}()
	unlock()
	u, ok := <-acquired
	if !ok {
		t.Fatal("the waiting Lock failed")
	}
	u()
	if _, err := os.Stat(dir + "/locks/oauth.lock"); err != nil {
		t.Fatalf("lock file: %v", err)
	}
	assertMode(t, dir+"/locks", 0o700)
}
