//go:build unix

package cache_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/cache/internal/keyring"
	"github.com/credchain/credchain/internal/testenv"
)

// roundTrip checks the cache.Store contract on s: a missing key is cache.ErrNotFound,
// Set/Get, overwrite with a record of another length and binary content,
// Delete, Get after Delete is cache.ErrNotFound, Delete of a missing key is fine.
// other is a store of the same backend on another directory, which must
// never see s's records.
func roundTrip(t fataler, s, other cache.Store) {
	t.Helper()
	ctx := context.Background()
	const key = "rt-source"
	if _, err := s.Get(ctx, key); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("%s: Get of a missing key: got %v, want ErrNotFound", s.Backend(), err)
	}
	v1 := []byte(`{"version":1,"source":"rt-source","token":"first"}`)
	if err := s.Set(ctx, key, v1); err != nil {
		t.Fatalf("%s: Set: %v", s.Backend(), err)
	}
	if got, err := s.Get(ctx, key); err != nil || !bytes.Equal(got, v1) {
		t.Fatalf("%s: Get after Set = %q, %v; want %q", s.Backend(), got, err, v1)
	}
	if other != nil {
		if _, err := other.Get(ctx, key); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("%s: a store on another directory sees the record (err %v); item names must differ per directory", s.Backend(), err)
		}
	}
	v2 := make([]byte, 4096)
	if _, err := rand.Read(v2); err != nil {
		t.Fatal(err)
	}
	copy(v2, "\x00\xff\n")
	if err := s.Set(ctx, key, v2); err != nil {
		t.Fatalf("%s: overwrite: %v", s.Backend(), err)
	}
	if got, err := s.Get(ctx, key); err != nil || !bytes.Equal(got, v2) {
		t.Fatalf("%s: Get after overwrite: %d bytes, %v; want the 4096-byte record", s.Backend(), len(got), err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("%s: Delete: %v", s.Backend(), err)
	}
	if _, err := s.Get(ctx, key); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("%s: Get after Delete: got %v, want ErrNotFound", s.Backend(), err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("%s: Delete of a missing key: %v", s.Backend(), err)
	}
}

// fataler is what roundTrip and openT use of a test, so that the Secret
// Service child (a re-executed binary without a testing.T) can use them.
type fataler interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// openT opens a store for a test. The time box is generous (it has its own
// test, TestTimeBox): gpg under a loaded CI machine must not fail a round
// trip.
func openT(t fataler, o cache.Options) cache.Store {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	s, err := cache.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("cache.Open(%+v): %v", o, err)
	}
	if want := o.Backend; want != "" && s.Backend() != want {
		t.Fatalf("cache.Open(%q) returned backend %q", want, s.Backend())
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		backend string
		setup   func(t *testing.T)
	}{
		{backend: "plaintext"},
		{backend: "file", setup: func(t *testing.T) { t.Setenv(cache.FilePasswordEnv, "correct horse battery staple") }},
		{backend: "memory"},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			testenv.Hermetic(t)
			if tc.setup != nil {
				tc.setup(t)
			}
			o := cache.Options{Backend: tc.backend, Dir: t.TempDir(), KeyCtlScope: "process"}
			s := openT(t, o)
			o.Dir = t.TempDir()
			roundTrip(t, s, openT(t, o))
		})
	}
}

func TestFileBackend(t *testing.T) {
	testenv.Hermetic(t)
	ctx := context.Background()
	dir := t.TempDir()
	t.Setenv(cache.FilePasswordEnv, "first password")
	s := openT(t, cache.Options{Backend: "file", Dir: dir})
	if err := s.Set(ctx, "oauth", []byte("encrypted record")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "file", "oauth")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("encrypted record")) {
		t.Fatal("the file backend wrote the record in clear")
	}
	assertMode(t, path, 0o600)
	assertMode(t, filepath.Dir(path), 0o700)
	// Written by 99designs/keyring's own file backend, so other programs
	// using that library read it.
	kr, err := keyring.Open(keyring.Config{AllowedBackends: []keyring.BackendType{keyring.FileBackend},
		FileDir: filepath.Dir(path), FilePasswordFunc: keyring.FixedStringPrompt("first password")})
	if err != nil {
		t.Fatal(err)
	}
	if it, err := kr.Get("oauth"); err != nil || string(it.Data) != "encrypted record" {
		t.Fatalf("keyring file backend reads %q, %v", it.Data, err)
	}
	cache.AssertNoTemporaries(t, filepath.Dir(path))

	t.Setenv(cache.FilePasswordEnv, "wrong password")
	wrong := openT(t, cache.Options{Backend: "file", Dir: dir})
	_, err = wrong.Get(ctx, "oauth")
	if err == nil || errors.Is(err, cache.ErrNotFound) || !strings.Contains(err.Error(), cache.FilePasswordEnv) {
		t.Fatalf("Get with a wrong password: %v; want an error naming %s", err, cache.FilePasswordEnv)
	}
	if strings.Contains(err.Error(), "encrypted record") {
		t.Fatal("the error leaks the record")
	}

	t.Setenv(cache.FilePasswordEnv, "")
	nopw := openT(t, cache.Options{Backend: "file", Dir: dir})
	if _, err := nopw.Get(ctx, "missing"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get of a missing record without a password: %v; want cache.ErrNotFound (no password needed)", err)
	}
	if err := nopw.Set(ctx, "oauth", []byte("y")); err == nil || !strings.Contains(err.Error(), cache.FilePasswordEnv) {
		t.Fatalf("Set without a password: %v; want an error naming %s", err, cache.FilePasswordEnv)
	}
	if got, err := s.Get(ctx, "oauth"); err != nil || string(got) != "encrypted record" {
		t.Fatalf("after failed operations the record is %q, %v; want it untouched", got, err)
	}

	// A caller-supplied password function is asked once, however many reads.
	calls := 0
	once := openT(t, cache.Options{Backend: "file", Dir: dir, FilePassword: func() (string, error) {
		calls++
		return "first password", nil
	}})
	for range 3 {
		if _, err := once.Get(ctx, "oauth"); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Fatalf("FilePassword called %d times; want 1", calls)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Fatalf("%s has mode %#o; want %#o", path, got, want)
	}
}
