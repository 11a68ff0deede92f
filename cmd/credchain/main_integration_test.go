//go:build integration

package main

import (
	"os"
	"testing"

	"github.com/credchain/credchain/internal/itest"
)

// TestMain removes the credchain binary the integration tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	itest.RemoveCredchainBuild()
	os.Exit(code)
}
