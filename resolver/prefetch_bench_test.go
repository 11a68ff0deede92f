package resolver_test

// Time to the first credential when the store is slow (50 ms per read,
// three stored logins) and the program has 50 ms of start-up work of its
// own, with the resolver's start-up prefetch and without it. Run with:
//
//	go test -run '^$' -bench FirstCredential -count 6 ./resolver
//
// docs/performance.md has the results.

import (
	"context"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/resolver"
)

const (
	benchStoreDelay = 50 * time.Millisecond
	benchOwnWork    = 50 * time.Millisecond
)

// storeReader is a non-persistent source that reads its record from the
// store only when asked: a resolver without start-up prefetch.
type storeReader struct {
	name  string
	store cache.Store
}

func (s storeReader) Name() string { return s.name }
func (s storeReader) Fetch(ctx context.Context, _ *resolver.Credential) (*resolver.Credential, error) {
	data, err := s.store.Get(ctx, s.name)
	if err != nil {
		return nil, err
	}
	return resolver.DecodeRecord(data)
}

// benchFirstCredential runs one program start: set-up (not timed), then start
// returns the credential the program would send first.
func benchFirstCredential(b *testing.B, start func(ctx context.Context, store *slowStore, sources []resolver.Source) (*resolver.Credential, error)) {
	ctx := context.Background()
	names := []string{"work-login", "personal-login", "team-login"}
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		store, sources, err := prefetchChain(benchStoreDelay, names...)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		cred, err := start(ctx, store, sources)
		total += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if cred.Source != names[0] {
			b.Fatalf("first credential from %q, want %q", cred.Source, names[0])
		}
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/op")
}

func BenchmarkFirstCredential(b *testing.B) {
	// resolver.New starts reading every stored record in parallel, so the
	// reads overlap the program's own work: about max(work, one read).
	b.Run("prefetch", func(b *testing.B) {
		benchFirstCredential(b, func(ctx context.Context, store *slowStore, sources []resolver.Source) (*resolver.Credential, error) {
			r, err := resolver.New(ctx, resolver.Config{Sources: sources, Store: store})
			if err != nil {
				return nil, err
			}
			defer r.Close()
			startUpWork(benchOwnWork)
			return r.Resolve(ctx)
		})
	})
	// The first Resolve reads the winning record only when asked: work
	// plus one read.
	b.Run("lazy", func(b *testing.B) {
		benchFirstCredential(b, func(ctx context.Context, store *slowStore, sources []resolver.Source) (*resolver.Credential, error) {
			var lazy []resolver.Source
			for _, s := range sources {
				lazy = append(lazy, storeReader{name: s.Name(), store: store})
			}
			r, err := resolver.New(ctx, resolver.Config{Sources: lazy})
			if err != nil {
				return nil, err
			}
			defer r.Close()
			startUpWork(benchOwnWork)
			return r.Resolve(ctx)
		})
	})
	// The program loads every stored record one after another before its
	// own work: work plus three reads.
	b.Run("sequential", func(b *testing.B) {
		benchFirstCredential(b, func(ctx context.Context, store *slowStore, sources []resolver.Source) (*resolver.Credential, error) {
			loaded := cache.NewMemory()
			for _, s := range sources {
				data, err := store.Get(ctx, s.Name())
				if err != nil {
					return nil, err
				}
				if err := loaded.Set(ctx, s.Name(), data); err != nil {
					return nil, err
				}
			}
			startUpWork(benchOwnWork)
			r, err := resolver.New(ctx, resolver.Config{Sources: sources, Store: loaded})
			if err != nil {
				return nil, err
			}
			defer r.Close()
			return r.Resolve(ctx)
		})
	})
}
