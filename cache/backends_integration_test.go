//go:build unix && integration

package cache_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/cache/internal/keyring"
	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
)

func TestPass(t *testing.T) {
	testenv.Hermetic(t)
	storeDir := itest.PassStore(t)
	dir := t.TempDir()
	s := openT(t, cache.Options{Backend: "pass", Dir: dir})
	roundTrip(t, s, openT(t, cache.Options{Backend: "pass", Dir: t.TempDir()}))

	// The record lives in the password store under service/dir-hash/key.
	if err := s.Set(context.Background(), "oauth", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(storeDir, cache.ItemName(dir, "oauth")+".gpg")); err != nil {
		t.Fatalf("the record is not in the password store: %v", err)
	}
	if err := s.Delete(context.Background(), "oauth"); err != nil {
		t.Fatal(err)
	}

	// With an initialised password store and no Secret Service, auto picks pass.
	auto := openT(t, cache.Options{Dir: dir})
	if auto.Backend() != "pass" {
		t.Fatalf("auto picked %q with an initialised password store; want pass", auto.Backend())
	}
}

// TestSecretService runs the round trip against a real gnome-keyring-daemon
// on a private session bus. 99designs/keyring looks for the bus in its
// package init, so the round trip runs in a re-executed test binary started
// with that bus's address.
func TestSecretService(t *testing.T) {
	if os.Getenv(childEnv) == "secret-service" {
		secretServiceChild(t)
		return
	}
	testenv.Hermetic(t)
	addr := itest.SecretService(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSecretService$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=secret-service", "DBUS_SESSION_BUS_ADDRESS="+addr)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestSecretService") {
		t.Fatalf("the Secret Service round trip failed (%v):\n%s", err, out)
	}
	t.Logf("child:\n%s", out)
}

func secretServiceChild(t *testing.T) {
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	dir := t.TempDir()
	s := openT(t, cache.Options{Backend: "secret-service", Dir: dir})
	roundTrip(t, s, openT(t, cache.Options{Backend: "secret-service", Dir: t.TempDir()}))

	// The record reached gnome-keyring's login collection under its item name.
	ctx := context.Background()
	if err := s.Set(ctx, "oauth", []byte("ss-record")); err != nil {
		t.Fatal(err)
	}
	item := cache.ItemName(dir, "oauth")
	raw, err := itest.SecretToolLookup(t, addr, "profile", item)
	if err != nil {
		t.Fatalf("secret-tool lookup of %s: %v", item, err)
	}
	var stored keyring.Item
	if err := json.Unmarshal([]byte(raw), &stored); err != nil || string(stored.Data) != "ss-record" {
		t.Fatalf("gnome-keyring holds %q (%v); want the item with data ss-record", raw, err)
	}
	if err := s.Delete(ctx, "oauth"); err != nil {
		t.Fatal(err)
	}

	// auto prefers the Secret Service to everything else on Linux.
	if auto := openT(t, cache.Options{Dir: dir}); auto.Backend() != "secret-service" {
		t.Fatalf("auto picked %q with a working Secret Service", auto.Backend())
	}
	t.Logf("secret-service round trip ok on %s", addr)
}

// TestRoundTripKeyCtl is TestRoundTrip on the kernel keyring, in the
// process scope so nothing outlives the test.
func TestRoundTripKeyCtl(t *testing.T) {
	testenv.Hermetic(t)
	itest.KeyCtl(t)
	o := cache.Options{Backend: "keyctl", Dir: t.TempDir(), KeyCtlScope: "process"}
	s := openT(t, o)
	o.Dir = t.TempDir()
	roundTrip(t, s, openT(t, o))
}
