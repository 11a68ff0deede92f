package cache

import (
	"errors"
	"testing"
)

// The auto report gives each backend that was tried one line: the
// package's and the backend's prefixes go, and so does everything after
// the first line break (a D-Bus error can run over many lines), even one
// at the very start.
func TestAutoReportReasonIsOneLine(t *testing.T) {
	for _, tc := range []struct{ backend, err, want string }{
		{"pass", "cache: pass: the pass program is not installed", "the pass program is not installed"},
		{"kwallet", "kwallet: no D-Bus session bus\nsecond line\nthird", "no D-Bus session bus"},
		{"kwallet", "\nonly after a line break", ""},
		{"secret-service", "secret-service: keyctl: names another backend", "keyctl: names another backend"},
	} {
		if got := reason(tc.backend, errors.New(tc.err)); got != tc.want {
			t.Errorf("reason(%q, %q) = %q; want %q", tc.backend, tc.err, got, tc.want)
		}
	}
}
