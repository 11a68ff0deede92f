//go:build unix

package cache_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
)

func TestCompareAndSwap(t *testing.T) {
	testenv.Hermetic(t)
	ctx := context.Background()
	for _, backend := range []string{"memory", "plaintext"} {
		t.Run(backend, func(t *testing.T) {
			s := openT(t, cache.Options{Backend: backend, Dir: t.TempDir()})
			steps := []struct {
				old, next []byte
				swapped   bool
				after     string // "" = no record
			}{
				{old: []byte("a"), next: []byte("b"), swapped: false, after: ""},
				{old: nil, next: []byte("rt-1"), swapped: true, after: "rt-1"},
				{old: nil, next: []byte("other"), swapped: false, after: "rt-1"},
				{old: []byte("rt-0"), next: nil, swapped: false, after: "rt-1"},
				{old: []byte("rt-1"), next: []byte("rt-2"), swapped: true, after: "rt-2"},
				{old: []byte("rt-2"), next: nil, swapped: true, after: ""},
			}
			for i, st := range steps {
				swapped, err := cache.CompareAndSwap(ctx, s, "oauth", st.old, st.next)
				if err != nil || swapped != st.swapped {
					t.Fatalf("step %d: CompareAndSwap = %v, %v; want %v", i, swapped, err, st.swapped)
				}
				got, err := s.Get(ctx, "oauth")
				if st.after == "" {
					if err == nil {
						t.Fatalf("step %d: record %q; want none", i, got)
					}
				} else if err != nil || string(got) != st.after {
					t.Fatalf("step %d: record %q, %v; want %q", i, got, err, st.after)
				}
			}
		})
	}
}

// TestUpdateSerialises: concurrent read-modify-writes through two stores on
// one directory lose no update.
func TestUpdateSerialises(t *testing.T) {
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
			errs <- cache.Update(ctx, stores[i%2], "counter", func(cur []byte, found bool) ([]byte, error) {
				v := 0
				if found {
					v, _ = strconv.Atoi(string(cur))
				}
				return []byte(strconv.Itoa(v + 1)), nil
			})
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

// failingStore is a memory store whose Lock or Get fails.
type failingStore struct {
	*cache.Memory
	lockErr, getErr error
}

func (s failingStore) Lock(ctx context.Context, key string) (func(), error) {
	if s.lockErr != nil {
		return nil, s.lockErr
	}
	return s.Memory.Lock(ctx, key)
}

func (s failingStore) Get(ctx context.Context, key string) ([]byte, error) {
	if s.getErr != nil {
		return nil, s.getErr
	}
	return s.Memory.Get(ctx, key)
}

// TestUpdateFailures: without the lock, or when the record cannot be read,
// Update returns the error and never calls f (it must not write on a guess);
// an error from f writes nothing.
func TestUpdateFailures(t *testing.T) {
	ctx := context.Background()
	lockErr, getErr, fErr := errors.New("lock timeout"), errors.New("keychain locked"), errors.New("refused")
	for _, tc := range []struct {
		name string
		s    failingStore
		f    error
		want error
	}{
		{"lock", failingStore{Memory: cache.NewMemory(), lockErr: lockErr}, nil, lockErr},
		{"read", failingStore{Memory: cache.NewMemory(), getErr: getErr}, nil, getErr},
		{"f", failingStore{Memory: cache.NewMemory()}, fErr, fErr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			err := cache.Update(ctx, tc.s, "k", func([]byte, bool) ([]byte, error) {
				called = true
				return []byte("written"), tc.f
			})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Update = %v, want %v", err, tc.want)
			}
			if called != (tc.f != nil) {
				t.Fatalf("f called = %v", called)
			}
			if _, err := tc.s.Memory.Get(ctx, "k"); err == nil {
				t.Fatal("a record was written")
			}
		})
	}
	if _, err := cache.CompareAndSwap(ctx, failingStore{Memory: cache.NewMemory(), lockErr: lockErr}, "k", nil, []byte("x")); !errors.Is(err, lockErr) {
		t.Fatalf("CompareAndSwap without the lock = %v", err)
	}
}
