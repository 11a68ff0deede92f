//go:build unix

package cache_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// TestLockSerialisesReadModifyWrite: 20 read-modify-write cycles of one
// counter through two stores on one directory, each under Lock, lose no
// update.
func TestLockSerialisesReadModifyWrite(t *testing.T) {
	testenv.Hermetic(t)
	ctx := context.Background()
	dir := t.TempDir()
	stores := []cache.Store{
		openT(t, cache.Options{Backend: "plaintext", Dir: dir}),
		openT(t, cache.Options{Backend: "plaintext", Dir: dir}),
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			s := stores[i%2]
			unlock, err := s.Lock(ctx, "counter")
			if err != nil {
				errs <- err
				return
			}
			defer unlock()
			v := 0
			if cur, err := s.Get(ctx, "counter"); err == nil {
				v, _ = strconv.Atoi(string(cur))
			}
			errs <- s.Set(ctx, "counter", []byte(strconv.Itoa(v+1)))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := stores[0].Get(ctx, "counter")
	if err != nil || string(got) != strconv.Itoa(n) {
		t.Fatalf("counter = %q, %v; want %d", got, err, n)
	}
}

// TestLockWaitIsBoundedAndNamesTheHolder: a lock holder that is stopped
// (SIGSTOP) holds the lock for good; a waiter gives up after LockWait with
// an error naming the holder's pid, and under NoWait it does not wait.
func TestLockWaitIsBoundedAndNamesTheHolder(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	child, _, out, stderr := startChild(t, "lock-holder", "CACHE_TEST_DIR="+dir)
	if line, err := out.ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("child said %q, %v (stderr: %s)", line, err, stderr.String())
	}
	if err := child.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Signal(syscall.SIGCONT) })

	s := openT(t, cache.Options{Backend: "plaintext", Dir: dir, LockWait: 200 * time.Millisecond})
	for name, ctx := range map[string]context.Context{
		"bounded wait": context.Background(),
		"no wait":      cache.NoWait(context.Background()),
	} {
		unlock, err := s.Lock(ctx, "oauth")
		if err == nil {
			unlock()
			t.Fatalf("%s: Lock succeeded while a stopped process holds it", name)
		}
		var held *cache.LockHeldError
		if !errors.Is(err, cache.ErrLockBusy) || !errors.As(err, &held) {
			t.Fatalf("%s: %v; want a LockHeldError", name, err)
		}
		if held.PID != child.Process.Pid || held.Since.IsZero() {
			t.Fatalf("%s: holder pid %d since %v; want pid %d and a time", name, held.PID, held.Since, child.Process.Pid)
		}
		if want := fmt.Sprintf("pid %d", child.Process.Pid); !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %q does not name %q", name, err, want)
		}
	}
}

// TestLockFileSymlinkIsNotFollowed: a symlink planted as a lock file is
// refused, and its target is neither created nor truncated.
func TestLockFileSymlinkIsNotFollowed(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	s := openT(t, cache.Options{Backend: "plaintext", Dir: dir})
	if err := os.MkdirAll(filepath.Join(dir, "locks"), 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(target, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "locks", "oauth.lock")); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock(context.Background(), "oauth")
	if err == nil {
		unlock()
		t.Fatal("Lock followed a symlinked lock file")
	}
	if !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("error %q does not say the lock file is a symbolic link", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious" {
		t.Fatalf("the symlink's target was changed: %q", b)
	}
}
