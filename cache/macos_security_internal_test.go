package cache

import (
	"bytes"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/credchain/credchain/cache/internal/keyring"
)

func TestAutoUsesMacSecurity(t *testing.T) {
	ok, why := autoUsesMacSecurity()
	native := slices.Contains(keyring.AvailableBackends(), keyring.KeychainBackend)
	switch {
	case runtime.GOOS != "darwin":
		if ok || !strings.Contains(why, "macOS only") {
			t.Fatalf("on %s: %v, %q; want not used, macOS only", runtime.GOOS, ok, why)
		}
	case native:
		if ok || !strings.Contains(why, "native Keychain") {
			t.Fatalf("darwin with cgo: %v, %q; want the native backend preferred", ok, why)
		}
	default:
		if !ok {
			t.Fatalf("darwin without cgo: not used (%s)", why)
		}
	}
}

func TestSecurityQuote(t *testing.T) {
	for in, want := range map[string]string{
		"credchain-0a1b2c3d": `"credchain-0a1b2c3d"`,
		`my "cred" \chain`:   `"my \"cred\" \\chain"`,
		"":                   `""`,
	} {
		if got := securityQuote(in); got != want {
			t.Errorf("securityQuote(%q) = %s; want %s", in, got, want)
		}
	}
}

func TestSecurityValueEncoding(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wrapped bool
	}{
		{`{"version":1}`, false},
		{"plain token ~!", false},
		{"", true},
		{"tab\t", true},
		{"\x00\xff", true},
		{"é", true},
		{"credchain:b64:AAAA", true},
		{"credchain:chunks:v1:x", true},
	} {
		enc := encodeSecurityValue([]byte(tc.in))
		if !printableASCII(enc) {
			t.Errorf("encode(%q) = %q is not printable ASCII", tc.in, enc)
		}
		if wrapped := !bytes.Equal(enc, []byte(tc.in)); wrapped != tc.wrapped {
			t.Errorf("encode(%q) = %q; wrapped %v, want %v", tc.in, enc, wrapped, tc.wrapped)
		}
		if _, isManifest, _ := parseManifest(enc); isManifest {
			t.Errorf("encode(%q) = %q reads as a list of parts", tc.in, enc)
		}
		dec, err := decodeSecurityValue(enc)
		if err != nil || string(dec) != tc.in {
			t.Errorf("decode(encode(%q)) = %q, %v", tc.in, dec, err)
		}
	}
	if _, err := decodeSecurityValue([]byte("credchain:b64:!!")); err == nil || strings.Contains(err.Error(), "!!") {
		t.Errorf("a damaged base64 value: %v; want an error that does not quote it", err)
	}
	for _, bad := range []string{"credchain:chunks:v1:", "credchain:chunks:v1:0123456789abcdef:0:" + strings.Repeat("0", 64),
		"credchain:chunks:v1:0123456789abcdef:65:" + strings.Repeat("0", 64), "credchain:chunks:v1:short:1:" + strings.Repeat("0", 64)} {
		if _, ok, err := parseManifest([]byte(bad)); !ok || err == nil {
			t.Errorf("parseManifest(%q) = %v, %v; want a damaged list of parts", bad, ok, err)
		}
	}
}
