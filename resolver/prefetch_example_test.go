package resolver_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/resolver"
)

// slowStore is a store whose reads take a fixed time, like a keychain
// reached over D-Bus or a password manager that forks gpg.
type slowStore struct {
	cache.Store
	delay time.Duration
	reads atomic.Int32
}

func (s *slowStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.reads.Add(1)
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Store.Get(ctx, key)
}

// storedLogin is a Persistent source whose credential lives in the store
// (a login made earlier); it is never fetched while the record is fresh.
type storedLogin struct{ name string }

func (s storedLogin) Name() string     { return s.name }
func (s storedLogin) Persistent() bool { return true }
func (s storedLogin) Fetch(context.Context, *resolver.Credential) (*resolver.Credential, error) {
	return nil, resolver.NotConfigured("not logged in")
}

// prefetchChain returns a store whose reads take delay, holding a fresh
// login for each of names, and the chain of those sources.
func prefetchChain(delay time.Duration, names ...string) (*slowStore, []resolver.Source, error) {
	mem := cache.NewMemory()
	now := time.Now()
	var sources []resolver.Source
	for i, name := range names {
		rec, err := resolver.EncodeRecord(&resolver.Credential{
			Source: name, Kind: resolver.KindBearer,
			Token:  resolver.NewSecret(fmt.Sprintf("stored-token-%d-0123456789", i)),
			Expiry: now.Add(time.Hour),
		}, now)
		if err != nil {
			return nil, nil, err
		}
		if err := mem.Set(context.Background(), name, rec); err != nil {
			return nil, nil, err
		}
		sources = append(sources, storedLogin{name})
	}
	return &slowStore{Store: mem, delay: delay}, sources, nil
}

// startUpWork stands for what a program does before its first request
// (parsing flags, building clients).
func startUpWork(d time.Duration) { time.Sleep(d) }

// Example_prefetch shows the start-up promise of the library: resolver.New
// returns at once and reads every stored record in parallel, so the
// program's own start-up work and the store's latency overlap. With reads of
// 50 ms each, the first Resolve after 50 ms of the program's own work
// returns after about 50 ms in all (not 100-200 ms); BenchmarkFirstCredential
// measures it.
func Example_prefetch() {
	ctx := context.Background()
	store, sources, err := prefetchChain(50*time.Millisecond, "work-login", "personal-login", "team-login")
	if err != nil {
		panic(err)
	}

	r, err := resolver.New(ctx, resolver.Config{Sources: sources, Store: store}) // returns at once
	if err != nil {
		panic(err)
	}
	defer r.Close()

	startUpWork(50 * time.Millisecond) // the reads run meanwhile

	cred, err := r.Resolve(ctx) // waits only for what is still being read
	if err != nil {
		panic(err)
	}
	fmt.Println(cred.Source, cred.Kind, cred.Token.Mask())
	fmt.Println("store reads:", store.reads.Load())
	// Output:
	// work-login bearer ****6789
	// store reads: 3
}
