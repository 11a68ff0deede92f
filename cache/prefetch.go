package cache

import "context"

// Prefetch holds the result of reading several records in parallel, started
// at once so a program's own start-up work overlaps the keychain's latency.
type Prefetch struct {
	results map[string]*prefetchResult
}

type prefetchResult struct {
	done  chan struct{}
	value []byte
	err   error
}

// StartPrefetch starts one Get per key in parallel and returns at once.
// Each read runs under ctx; Wait returns the result of one key.
func StartPrefetch(ctx context.Context, s Store, keys []string) *Prefetch {
	p := &Prefetch{results: make(map[string]*prefetchResult, len(keys))}
	for _, k := range keys {
		if _, dup := p.results[k]; dup {
			continue
		}
		r := &prefetchResult{done: make(chan struct{})}
		p.results[k] = r
		go func(key string) {
			v, err := s.Get(ctx, key)
			r.value, r.err = v, err
			close(r.done)
		}(k)
	}
	return p
}

// Wait returns the prefetched record for key, waiting for it if the read is
// still running. A key that was not prefetched reports ErrNotFound.
func (p *Prefetch) Wait(ctx context.Context, key string) ([]byte, error) {
	r, ok := p.results[key]
	if !ok {
		return nil, ErrNotFound
	}
	select {
	case <-r.done:
		return r.value, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Has reports whether key was part of the prefetch.
func (p *Prefetch) Has(key string) bool {
	_, ok := p.results[key]
	return ok
}
