package cache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// slowStore is a Memory whose Get takes 50 ms, and which records how many
// Gets run at once. Each Get also waits (bounded) until `want` Gets are in
// flight: run serially, the first one gives up and fails.
type slowStore struct {
	*Memory
	want int

	mu       sync.Mutex
	inflight int
	max      int
	all      chan struct{}
}

func (s *slowStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	s.inflight++
	s.max = max(s.max, s.inflight)
	if s.inflight == s.want {
		close(s.all)
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}()
	select {
	case <-s.all:
	case <-time.After(5 * time.Second):
		return nil, errors.New("slowStore: the other Gets never started: reads are not parallel")
	}
	select {
	case <-time.After(50 * time.Millisecond): // the keychain's latency
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Memory.Get(ctx, key)
}

func TestPrefetchParallel(t *testing.T) {
	ctx := context.Background()
	s := &slowStore{Memory: NewMemory(), want: 3, all: make(chan struct{})}
	keys := []string{"oauth", "bedrock", "api-key-helper"}
	for _, k := range keys {
		if err := s.Set(ctx, k, []byte("record of "+k)); err != nil {
			t.Fatal(err)
		}
	}
	p := StartPrefetch(ctx, s, append(keys, "oauth")) // a duplicate is read once
	for _, k := range keys {
		v, err := p.Wait(ctx, k)
		if err != nil || string(v) != "record of "+k {
			t.Fatalf("Wait(%q) = %q, %v", k, v, err)
		}
	}
	if _, err := p.Wait(ctx, "vertex"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Wait of a key not prefetched: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max != 3 {
		t.Fatalf("at most %d Gets ran at once; want all 3", s.max)
	}
}

func TestPrefetchMissing(t *testing.T) {
	ctx := context.Background()
	p := StartPrefetch(ctx, NewMemory(), []string{"oauth"})
	if _, err := p.Wait(ctx, "oauth"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Wait of a missing record: %v", err)
	}
}
