//go:build unix

package cache_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
)

func TestPlaintextModes(t *testing.T) {
	testenv.Hermetic(t)
	dir := filepath.Join(t.TempDir(), "store")
	s := openT(t, cache.Options{Backend: "plaintext", Dir: dir})
	if err := s.Set(context.Background(), "oauth", []byte("r")); err != nil {
		t.Fatal(err)
	}
	assertMode(t, dir, 0o700)
	assertMode(t, filepath.Join(dir, "plaintext"), 0o700)
	assertMode(t, filepath.Join(dir, "plaintext", "oauth.json"), 0o600)
	cache.AssertNoTemporaries(t, filepath.Join(dir, "plaintext"))

	// A records directory someone opened up is tightened again, and what a
	// crashed writer left there is removed (a live writer's temporary file
	// is kept: TestLeftoversRemovedAtOpen).
	records := filepath.Join(dir, "plaintext")
	if err := os.Chmod(records, 0o755); err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(records, ".tmp-oauth.json-1")
	if err := os.WriteFile(crashed, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	openT(t, cache.Options{Backend: "plaintext", Dir: dir})
	assertMode(t, records, 0o700)
	if _, err := os.Stat(crashed); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a crashed writer's temporary file is still there: %v", err)
	}

	d := s.(interface{ Describe() map[string]string }).Describe()
	if d["backend"] != "plaintext" || d["dir"] != dir || d["service"] != cache.DefaultService || d["encrypted"] != "no" || d["selected"] != "explicit" {
		t.Fatalf("Describe() = %v", d)
	}
}

func TestPlaintextDamagedRecord(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	s := openT(t, cache.Options{Backend: "plaintext", Dir: dir})
	path := filepath.Join(dir, "plaintext", "oauth.json")
	if err := os.WriteFile(path, []byte(`{"version":1,"key":"oauth","data":"c2VjcmV0LXRv`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(context.Background(), "oauth")
	if err == nil || errors.Is(err, cache.ErrNotFound) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Get of a damaged record: %v; want an error naming %s", err, path)
	}
	if strings.Contains(err.Error(), "c2VjcmV0") {
		t.Fatalf("the error quotes the record: %v", err)
	}
}

// TestPlaintextAtomicReplace races two processes writing large distinct
// records to one key while this process reads it: every read must be one
// whole record that some writer wrote.
func TestPlaintextAtomicReplace(t *testing.T) {
	testenv.Hermetic(t)
	const n = 60
	dir := t.TempDir()
	s := openT(t, cache.Options{Backend: "plaintext", Dir: dir, Timeout: time.Minute})
	written := map[[32]byte]bool{}
	for i := range n {
		written[sha256.Sum256(raceValue('p', i))] = true
		written[sha256.Sum256(raceValue('c', i))] = true
	}

	child, stdin, stdout, stderr := startChild(t, "plaintext-writer", "CACHE_TEST_DIR="+dir, "CACHE_TEST_N="+strconv.Itoa(n))
	if line, err := stdout.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("writer child: %q, %v (%s)", line, err, stderr.String())
	}

	ctx := context.Background()
	done, stop := make(chan struct{}), make(chan struct{})
	var reads, found int
	var readErr error
	go func() {
		defer close(done)
		for {
			v, err := s.Get(ctx, "race")
			switch {
			case errors.Is(err, cache.ErrNotFound) && found > 0:
				readErr = errors.New("the record vanished while being replaced")
				return
			case errors.Is(err, cache.ErrNotFound):
			case err != nil:
				readErr = err
				return
			case !written[sha256.Sum256(v)]:
				readErr = errors.New("read a record no writer wrote (torn): " + strconv.Quote(string(v[:16])))
				return
			default:
				found++
			}
			reads++
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var setErr error
	wg.Go(func() {
		for i := range n {
			if err := s.Set(ctx, "race", raceValue('p', i)); err != nil {
				setErr = err
				return
			}
		}
	})
	childErr := child.Wait()
	wg.Wait()
	close(stop)
	<-done
	if childErr != nil {
		t.Fatalf("writer child: %v: %s", childErr, stderr.String())
	}
	if setErr != nil {
		t.Fatal(setErr)
	}
	if readErr != nil {
		t.Fatalf("after %d reads: %v", reads, readErr)
	}
	if found == 0 {
		t.Fatalf("the reader never saw a record in %d reads", reads)
	}
	cache.AssertNoTemporaries(t, filepath.Join(dir, "plaintext"))
	t.Logf("%d reads, %d whole records, while 2 processes wrote %d records each", reads, found, n)
}
