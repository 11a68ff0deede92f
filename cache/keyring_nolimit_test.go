package cache

import (
	"context"
	"strings"
	"testing"

	"github.com/credchain/credchain/cache/internal/keyring"
)

// A keyring backend without a record limit (every one but wincred) stores
// a record of any size.
func TestKeyringWithoutLimitStoresLargeRecords(t *testing.T) {
	kr := keyring.NewArrayKeyring(nil)
	o, err := resolveOptions(Options{Backend: "secret-service", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(o, "secret-service", &keyringBackend{kr: kr, o: o}, true)
	big := []byte(strings.Repeat("a", 4*winCredMaxBlob))
	if err := s.Set(context.Background(), "bedrock", big); err != nil {
		t.Fatalf("Set of a %d-byte record: %v", len(big), err)
	}
	if got, err := s.Get(context.Background(), "bedrock"); err != nil || string(got) != string(big) {
		t.Fatalf("Get = %d bytes, %v; want the record back", len(got), err)
	}
}
