package cache

import (
	"runtime"
	"strings"
	"testing"
)

// For KWallet the service name names the wallet, so credchain leaves it
// empty and KWallet uses the user's default wallet (credchain's records go
// in a folder named after the service); every other backend gets the
// service name.
func TestKeyringConfigKWalletKeepsDefaultWallet(t *testing.T) {
	o, err := resolveOptions(Options{Dir: t.TempDir(), Service: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		backend, wantService string
	}{
		{"kwallet", ""},
		{"keychain", "acme"},
		{"wincred", "acme"},
		{"secret-service", "acme"},
		{"pass", "acme"},
		{"keyctl", "acme"},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			cfg := keyringConfig(o, tc.backend)
			if cfg.ServiceName != tc.wantService {
				t.Errorf("ServiceName = %q; want %q", cfg.ServiceName, tc.wantService)
			}
			if cfg.KWalletFolder != "acme" || cfg.KWalletAppID != "acme" {
				t.Errorf("KWallet folder/app = %q/%q; want the service", cfg.KWalletFolder, cfg.KWalletAppID)
			}
			if len(cfg.AllowedBackends) != 1 || string(cfg.AllowedBackends[0]) != tc.backend {
				t.Errorf("AllowedBackends = %v; want only %s", cfg.AllowedBackends, tc.backend)
			}
		})
	}
}

// Without the native Keychain backend the reason depends on the platform:
// on macOS it is a build without cgo (macos-security stands in), elsewhere
// the Keychain does not exist.
func TestUnavailableKeychainSaysWhy(t *testing.T) {
	got := unavailable("keychain")
	want := "keychain: macOS only"
	if runtime.GOOS == "darwin" {
		want = "no cgo"
	}
	if !strings.Contains(got, want) {
		t.Fatalf("on %s: %q; want it to say %q", runtime.GOOS, got, want)
	}
}
