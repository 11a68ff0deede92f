//go:build linux && integration

package keyring

import (
	"sort"
	"testing"

	"github.com/gsterjov/go-libsecret"
)

// NOTE: These tests are not runnable from a headless environment such as
// Docker or a CI pipeline due to the DBus "prompt" interface being called
// by the underlying go-libsecret when creating and unlocking a keychain.
//
// TODO: Investigate a way to automate the prompting. Some ideas:
//
//  1. I've looked extensively but have not found a headless CLI tool that
//     could be run in the background of eg: a docker container
//  2. It might be possible to make a mock prompter that connects to DBus
//     and provides the Prompt interface using the go-libsecret library.

func libSecretSetup(t *testing.T) (Keyring, func(t *testing.T)) {
	t.Helper()
	service, err := libsecret.NewService()
	if err != nil {
		t.Fatal(err)
	}
	// credchain: the "login" collection the test daemon created unlocked,
	// emptied afterwards; creating or deleting a collection needs an
	// interactive prompt (gcr-prompter), which a headless daemon cannot show.
	kr := &secretsKeyring{
		name:    "login",
		service: service,
	}
	return kr, func(t *testing.T) {
		t.Helper()
		keys, err := kr.Keys()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if err := kr.Remove(k); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// libSecretAbsent is a keyring on upstream's test collection, which does
// not exist on the test daemon (credchain: the "WhenEmpty" tests are about
// a missing collection; an existing one answers Remove of a missing key
// with nil).
func libSecretAbsent(t *testing.T) Keyring {
	t.Helper()
	service, err := libsecret.NewService()
	if err != nil {
		t.Fatal(err)
	}
	return &secretsKeyring{name: "keyring-test", service: service}
}

func testLibSecretKeysWhenEmpty(t *testing.T) {
	kr := libSecretAbsent(t)

	keys, err := kr.Keys()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Fatalf("Expected 0 keys, got %d", len(keys))
	}
}

func testLibSecretKeysWhenNotEmpty(t *testing.T) {
	kr, teardown := libSecretSetup(t)
	defer teardown(t)

	item := Item{Key: "llamas", Data: []byte("llamas are great")}
	item2 := Item{Key: "alpacas", Data: []byte("alpacas are better")}

	if err := kr.Set(item); err != nil {
		t.Fatal(err)
	}

	if err := kr.Set(item2); err != nil {
		t.Fatal(err)
	}

	keys, err := kr.Keys()
	if err != nil {
		t.Fatal(err)
	}

	if len(keys) != 2 {
		t.Fatalf("Expected 2 keys, got %d", len(keys))
	}

	sort.Strings(keys)
	if keys[0] != "alpacas" {
		t.Fatalf("Expected alpacas")
	}
	if keys[1] != "llamas" {
		t.Fatalf("Expected llamas")
	}
}

func testLibSecretGetWhenEmpty(t *testing.T) {
	kr := libSecretAbsent(t)

	_, err := kr.Get("llamas")
	if err != ErrKeyNotFound {
		t.Fatalf("Expected ErrKeyNotFound, got: %s", err)
	}
}

func testLibSecretGetWhenNotEmpty(t *testing.T) {
	kr, teardown := libSecretSetup(t)
	defer teardown(t)

	item := Item{Key: "llamas", Data: []byte("llamas are great")}

	if err := kr.Set(item); err != nil {
		t.Fatal(err)
	}

	it, err := kr.Get(item.Key)
	if err != nil {
		t.Fatal(err)
	}
	if it.Key != item.Key {
		t.Fatal("Expected item not returned")
	}
}

func testLibSecretRemoveWhenEmpty(t *testing.T) {
	kr := libSecretAbsent(t)

	err := kr.Remove("no-such-key")
	if err != ErrKeyNotFound {
		t.Fatalf("Expected ErrKeyNotFound, got: %s", err)
	}
}

func testLibSecretRemoveWhenNotEmpty(t *testing.T) {
	kr, teardown := libSecretSetup(t)
	defer teardown(t)

	item := Item{Key: "llamas", Data: []byte("llamas are great")}

	if err := kr.Set(item); err != nil {
		t.Fatal(err)
	}

	if _, err := kr.Get("llamas"); err != nil {
		t.Fatal(err)
	}

	if err := kr.Remove("llamas"); err != nil {
		t.Fatal(err)
	}
}

// LibSecretTests are upstream's Secret Service tests, for TestLibSecret
// (in package keyring_test, which may import internal/itest: this package
// may not, itest's imports lead back here).
var LibSecretTests = []struct {
	Name string
	Test func(*testing.T)
}{
	{"SecretKeysWhenEmpty", testLibSecretKeysWhenEmpty},
	{"SecretKeysWhenNotEmpty", testLibSecretKeysWhenNotEmpty},
	{"SecretGetWhenEmpty", testLibSecretGetWhenEmpty},
	{"SecretGetWhenNotEmpty", testLibSecretGetWhenNotEmpty},
	{"SecretRemoveWhenEmpty", testLibSecretRemoveWhenEmpty},
	{"SecretRemoveWhenNotEmpty", testLibSecretRemoveWhenNotEmpty},
}
