//go:build unix && integration

package cache_test

import (
	"context"
	"encoding/json"
	"fmt"
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
// on a private session bus. The keyring package decides once per process
// whether the Secret Service exists (and the other tests run without a
// bus), so the round trip runs in a re-executed test binary started with
// that bus's address: childSecretService, dispatched from TestMain.
func TestSecretService(t *testing.T) {
	testenv.Hermetic(t)
	addr := itest.SecretService(t)
	secretTool := itest.RequireCommand(t, "secret-tool", "apt-get install libsecret-tools")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=secret-service", "DBUS_SESSION_BUS_ADDRESS="+addr,
		"CACHE_TEST_DIR="+t.TempDir(), "CACHE_TEST_SECRET_TOOL="+secretTool)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "secret-service round trip ok") {
		t.Fatalf("the Secret Service round trip failed (%v):\n%s", err, out)
	}
	t.Logf("child:\n%s", out)
}

// childT stands in for a testing.T in the Secret Service child: a failure
// is printed and ends the process with status 1.
type childT struct{}

func (childT) Helper() {}
func (childT) Fatal(args ...any) {
	fmt.Fprintln(os.Stderr, args...)
	os.Exit(1)
}
func (childT) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

// childSecretService is the Secret Service round trip, in a process started
// with the private bus's address (see TestSecretService). Its directories
// are under CACHE_TEST_DIR, which the parent removes.
func childSecretService() int {
	var t childT
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	dir := filepath.Join(os.Getenv("CACHE_TEST_DIR"), "a")
	s := openT(t, cache.Options{Backend: "secret-service", Dir: dir})
	roundTrip(t, s, openT(t, cache.Options{Backend: "secret-service", Dir: filepath.Join(os.Getenv("CACHE_TEST_DIR"), "b")}))

	// The record reached gnome-keyring's login collection under its item name.
	ctx := context.Background()
	if err := s.Set(ctx, "oauth", []byte("ss-record")); err != nil {
		t.Fatal(err)
	}
	item := cache.ItemName(dir, "oauth")
	lookupCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	raw, err := exec.CommandContext(lookupCtx, os.Getenv("CACHE_TEST_SECRET_TOOL"), "lookup", "profile", item).Output()
	if err != nil {
		t.Fatalf("secret-tool lookup of %s: %v", item, err)
	}
	var stored keyring.Item
	if err := json.Unmarshal(raw, &stored); err != nil || string(stored.Data) != "ss-record" {
		t.Fatalf("gnome-keyring holds %q (%v); want the item with data ss-record", raw, err)
	}
	if err := s.Delete(ctx, "oauth"); err != nil {
		t.Fatal(err)
	}

	// auto prefers the Secret Service to everything else on Linux.
	if auto := openT(t, cache.Options{Dir: dir}); auto.Backend() != "secret-service" {
		t.Fatalf("auto picked %q with a working Secret Service", auto.Backend())
	}
	fmt.Printf("secret-service round trip ok on %s\n", addr)
	return 0
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
