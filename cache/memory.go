package cache

import (
	"context"
	"os"
	"sync"
)

// Memory is an in-process Store: backend "memory". Its lock is per key and
// in-process only; records vanish with the process.
type Memory struct {
	mu    sync.Mutex
	data  map[string][]byte
	locks map[string]chan struct{}
}

// NewMemory returns an empty memory store.
func NewMemory() *Memory {
	return &Memory{data: map[string][]byte{}, locks: map[string]chan struct{}{}}
}

// Backend returns "memory".
func (m *Memory) Backend() string { return "memory" }

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.data[key]
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

// Set implements Store.
func (m *Memory) Set(_ context.Context, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = append([]byte(nil), value...)
	return nil
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, key)
	return nil
}

// Lock implements Store with one channel-semaphore per key.
func (m *Memory) Lock(ctx context.Context, key string) (func(), error) {
	m.mu.Lock()
	ch, ok := m.locks[key]
	if !ok {
		ch = make(chan struct{}, 1)
		m.locks[key] = ch
	}
	m.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	default:
	}
	if noWait(ctx) {
		return nil, &LockHeldError{Key: key, Path: "memory", PID: os.Getpid()}
	}
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
