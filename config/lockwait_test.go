package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
)

// store.lock_wait reaches cache.Options.LockWait from every layer, defaults
// to cache.DefaultLockWait, and must be positive (zero would mean the
// default to the cache, a negative wait is meaningless).
func TestStoreLockWait(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "c.yaml", "store:\n  lock_wait: 5s\n")
	for _, tt := range []struct {
		name string
		env  mapEnv
		file string
		want time.Duration
	}{
		{"default", mapEnv{}, "", cache.DefaultLockWait},
		{"file", mapEnv{}, file, 5 * time.Second},
		{"env over file", mapEnv{"CREDCHAIN_STORE_LOCK_WAIT": "250ms"}, file, 250 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := load(t, tt.env, tt.file, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.StoreOptions().LockWait; got != tt.want {
				t.Errorf("StoreOptions().LockWait = %v, want %v", got, tt.want)
			}
			if got := value[time.Duration](t, s, "store.lock_wait"); got != tt.want {
				t.Errorf("store.lock_wait = %v, want %v", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"0s", "-1s", "soon"} {
		t.Run("invalid "+bad, func(t *testing.T) {
			_, err := load(t, mapEnv{"CREDCHAIN_STORE_LOCK_WAIT": bad}, "", nil)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "store.lock_wait") {
				t.Fatalf("store.lock_wait %q: %v; want ErrInvalid naming the key", bad, err)
			}
		})
	}
}
