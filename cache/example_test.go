package cache_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/credchain/credchain/cache"
)

// A store in memory: nothing survives the process, nothing touches disk.
func ExampleOpen() {
	ctx := context.Background()
	s, err := cache.Open(ctx, cache.Options{Backend: "memory"})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = s.Set(ctx, "oauth", []byte(`{"version":1}`))
	v, _ := s.Get(ctx, "oauth")
	fmt.Println(s.Backend(), string(v))
	_, err = s.Get(ctx, "bedrock")
	fmt.Println(errors.Is(err, cache.ErrNotFound))
	// Output:
	// memory {"version":1}
	// true
}

// The plaintext backend, chosen explicitly: one 0600 JSON file per record
// under <Dir>/plaintext, replaced atomically, with a cross-process lock per
// record around a read-modify-write.
func ExampleOpen_plaintext() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "credchain-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	s, err := cache.Open(ctx, cache.Options{Backend: "plaintext", Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	unlock, err := s.Lock(ctx, "oauth")
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := s.Get(ctx, "oauth"); errors.Is(err, cache.ErrNotFound) {
		_ = s.Set(ctx, "oauth", []byte(`{"version":1}`))
	}
	unlock()

	v, _ := s.Get(ctx, "oauth")
	info, _ := os.Stat(dir + "/plaintext/oauth.json")
	fmt.Println(s.Backend(), string(v), info.Mode().Perm())
	// Output:
	// plaintext {"version":1} -rw-------
}
