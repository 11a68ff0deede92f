package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Lister is implemented by stores that can list their record keys, so
// `credchain logout` can remove the records of every identity, not only the
// one the current settings name.
type Lister interface {
	// Keys returns every record key in the store, sorted.
	Keys(ctx context.Context) ([]string, error)
}

// lister is implemented by backends that can list their keys.
type lister interface {
	keys() ([]string, error)
}

// errNoListing is returned by Keys for a backend that cannot list.
var errNoListing = errors.New("this backend cannot list its records")

// Keys implements Lister.
func (s *store) Keys(ctx context.Context) ([]string, error) {
	l, ok := s.be.(lister)
	if !ok {
		return nil, fmt.Errorf("cache: %s: %w", s.name, errNoListing)
	}
	var keys []string
	_, err := s.call(ctx, "list", "*", func() ([]byte, error) {
		k, err := l.keys()
		keys = k
		return nil, err
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(keys)
	return keys, nil
}

// Keys implements Lister.
func (m *Memory) Keys(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.data))
	for k := range m.data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, nil
}

// dirKeys lists the record files of dir: names that are valid keys once
// suffix is cut (temporary files start with '.').
func dirKeys(dir, suffix string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), suffix)
		if ok && !strings.HasPrefix(name, journalPrefix) && e.Type().IsRegular() && checkKey(name) == nil {
			keys = append(keys, name)
		}
	}
	return keys, nil
}

func (b *plaintextBackend) keys() ([]string, error) { return dirKeys(b.dir, ".json") }
func (b *fileBackend) keys() ([]string, error) {
	keys, err := dirKeys(b.dir, "")
	if err != nil {
		return nil, err
	}
	// A journal left by a crash is a record too.
	entries, _ := os.ReadDir(b.dir)
	for _, e := range entries {
		if k, ok := strings.CutPrefix(e.Name(), journalPrefix); ok && checkKey(k) == nil && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

func (b *keyringBackend) keys() (keys []string, err error) {
	var names []string
	b.thread.do(func() { names, err = b.kr.Keys() })
	prefix := b.o.itemName("")
	for _, n := range names {
		if k, ok := strings.CutPrefix(n, prefix); ok && checkKey(k) == nil {
			keys = append(keys, k)
		}
	}
	return keys, err
}
