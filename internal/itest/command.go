//go:build integration

package itest

import (
	"os/exec"
	"testing"
)

// RequireCommand returns the path of a program the test needs. A missing
// program fails the test (it never skips): .ci/run installs every one.
func RequireCommand(t testing.TB, name, installHint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("itest: %s is required and not installed (%s; .ci/run installs it): %v", name, installHint, err)
	}
	return p
}
