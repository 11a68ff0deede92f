//go:build unix

package fdsource_test

import (
	"os"
	"testing"
)

// TestMain runs the child half of the inherited-descriptor tests when the
// test binary is re-executed as that child (see runChild).
func TestMain(m *testing.M) {
	if os.Getenv(childMarker) != "" {
		os.Exit(fdChild())
	}
	os.Exit(m.Run())
}
