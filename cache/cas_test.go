//go:build unix

package cache_test

import (
	"context"
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
