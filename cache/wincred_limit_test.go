package cache

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/credchain/credchain/cache/internal/keyring"
)

// The Windows Credential Manager holds at most 2,560 bytes per credential:
// a larger record is refused with ErrTooLarge before anything is written,
// so the record already stored survives.
func TestWinCredRecordLimit(t *testing.T) {
	kr := keyring.NewArrayKeyring(nil)
	o, err := resolveOptions(Options{Backend: "wincred", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(o, "wincred", &keyringBackend{kr: kr, o: o, maxRecord: winCredMaxBlob}, true)
	ctx := context.Background()
	old := []byte(strings.Repeat("a", winCredMaxBlob))
	if err := s.Set(ctx, "bedrock", old); err != nil {
		t.Fatalf("a record of exactly the limit: %v", err)
	}
	err = s.Set(ctx, "bedrock", []byte(strings.Repeat("b", winCredMaxBlob+1)))
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "store.backend: file") {
		t.Fatalf("err = %v, want ErrTooLarge naming the fix", err)
	}
	got, err := s.Get(ctx, "bedrock")
	if err != nil || string(got) != string(old) {
		t.Fatalf("the stored record was damaged by the refused write: %v", err)
	}
}
