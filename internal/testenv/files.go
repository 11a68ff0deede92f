package testenv

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// CountLines returns how many lines the file at path holds, 0 when it does
// not exist: how tests count the runs of a command that appends a line to a
// file each time it runs.
func CountLines(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}
