//go:build linux && integration

package keyring_test

import (
	"testing"

	"github.com/credchain/credchain/cache/internal/keyring"
	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
)

// TestLibSecret runs upstream's Secret Service tests against a private
// gnome-keyring-daemon (itest.SecretService), one bus for all of them: the
// go-libsecret connection is godbus's process-wide session bus, made on
// first use from DBUS_SESSION_BUS_ADDRESS. Upstream skipped them in CI.
func TestLibSecret(t *testing.T) {
	testenv.Hermetic(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", itest.SecretService(t))
	for _, tc := range keyring.LibSecretTests {
		t.Run(tc.Name, tc.Test)
	}
}
