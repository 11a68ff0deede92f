//go:build linux

package keyring

import (
	"testing"
)

func TestLibSpecialCharacters(t *testing.T) {
	decoded := decodeKeyringString("keyring_2dtest")
	if decoded != "keyring-test" {
		t.Fatal("incorrect decodeKeyringString")
	}

	decoded = decodeKeyringString("keyring_2d_2dtest")
	if decoded != "keyring--test" {
		t.Fatal("incorrect decodeKeyringString")
	}

	decoded = decodeKeyringString("keyring_2dtest_2d_2d")
	if decoded != "keyring-test--" {
		t.Fatal("incorrect decodeKeyringString")
	}

	decoded = decodeKeyringString("_2d_2dkeyring_2dtest_2d_2d")
	if decoded != "--keyring-test--" {
		t.Fatal("incorrect decodeKeyringString")
	}
}

// An '_' starts a two-digit hex escape. The decoder must read it when exactly
// two characters follow (the escape ends the string) and give the string
// back unchanged, without reading past its end, when fewer follow: D-Bus
// object paths come from the bus, so a truncated escape is input, not a
// programming error.
func TestDecodeKeyringStringEscapeAtEnd(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"escape ends the string", "a_2d", "a-"},
		{"escape is the whole string", "_2d", "-"},
		{"one character after the underscore", "a_2", "a_2"},
		{"nothing after the underscore", "a_", "a_"},
		{"lone underscore", "_", "_"},
		{"truncated escape after a complete one", "_2d_2", "_2d_2"},
		{"not hex", "a_zz", "a_zz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decodeKeyringString(tc.in); got != tc.want {
				t.Fatalf("decodeKeyringString(%q) = %q; want %q", tc.in, got, tc.want)
			}
		})
	}
}
