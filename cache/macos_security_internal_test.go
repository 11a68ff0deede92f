package cache

import (
	"bytes"
	"encoding/hex"
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
}

// TestParseManifest pins which lists of parts are valid: 1 to
// securityMaxChunks (64) parts, both ends included, a 16-hex-digit
// generation and a 64-hex-digit SHA-256. A list naming 0 or 65 parts is
// damage (set never writes one), not a record to read.
func TestParseManifest(t *testing.T) {
	const gen = "0123456789abcdef"
	sum := strings.Repeat("0a", 32)
	for _, tc := range []struct {
		stored   string
		manifest bool // stored is a list of parts, valid or not
		want     securityManifest
		valid    bool
	}{
		{stored: `{"version":1}`},
		{stored: "credchain:b64:AAAA"},
		{stored: "credchain:chunks:v2:" + gen + ":1:" + sum},
		{stored: "credchain:chunks:v1:" + gen + ":1:" + sum, manifest: true, valid: true, want: securityManifest{gen: gen, n: 1, sum: sum}},
		{stored: "credchain:chunks:v1:" + gen + ":2:" + sum, manifest: true, valid: true, want: securityManifest{gen: gen, n: 2, sum: sum}},
		{stored: "credchain:chunks:v1:" + gen + ":63:" + sum, manifest: true, valid: true, want: securityManifest{gen: gen, n: 63, sum: sum}},
		{stored: "credchain:chunks:v1:" + gen + ":64:" + sum, manifest: true, valid: true, want: securityManifest{gen: gen, n: 64, sum: sum}},
		{stored: "credchain:chunks:v1:" + gen + ":0:" + sum, manifest: true},
		{stored: "credchain:chunks:v1:" + gen + ":-1:" + sum, manifest: true},
		{stored: "credchain:chunks:v1:" + gen + ":65:" + sum, manifest: true},
		{stored: "credchain:chunks:v1:" + gen + ":x:" + sum, manifest: true},
		{stored: "credchain:chunks:v1:", manifest: true},
		{stored: "credchain:chunks:v1:" + gen + ":1", manifest: true},
		{stored: "credchain:chunks:v1:" + gen + ":1:" + sum + ":", manifest: true},
		{stored: "credchain:chunks:v1:short:1:" + sum, manifest: true},
		{stored: "credchain:chunks:v1:" + gen + "0:1:" + sum, manifest: true},
		{stored: "credchain:chunks:v1:" + gen + ":1:" + sum[1:], manifest: true},
	} {
		m, ok, err := parseManifest([]byte(tc.stored))
		if ok != tc.manifest || (err == nil) != (tc.valid || !tc.manifest) || m != tc.want {
			t.Errorf("parseManifest(%q) = %+v, %v, %v; want %+v, list of parts %v, valid %v", tc.stored, m, ok, err, tc.want, tc.manifest, tc.valid)
		}
	}
}

// TestSecurityMessage pins how security's error output is put in an error:
// its first non-blank line only, the hex of the value sent on stdin
// replaced wherever it appears, and at most securityStderrMaxLength (300)
// bytes, a longer message cut there and marked with "…".
func TestSecurityMessage(t *testing.T) {
	secret := hex.EncodeToString([]byte("sk-ant-oat01-SECRET"))
	line := "add-generic-password -U -s \"credchain-0a1b2c3d\" -a \"oauth\" -X " + secret + "\n"
	at300 := strings.Repeat("m", 299) + "."
	for _, tc := range []struct {
		name, stderr, stdin, want string
	}{
		{"no output", "", "", "no message"},
		{"blank output", " \n\t\n", "", "no message"},
		{"one line", "security: SecKeychainSearchCopyNext: The specified item could not be found in the keychain.\n", "",
			"security: SecKeychainSearchCopyNext: The specified item could not be found in the keychain."},
		{"first line only", "first\nsecond\n", "", "first"},
		{"first non-blank line", "\n\n  first\nsecond", "", "first"},
		{"secret redacted", "security> bad value " + secret + " here", line, "security> bad value <redacted> here"},
		{"secret redacted everywhere", secret + secret, line, "<redacted><redacted>"},
		{"secret redacted from stdin that starts with it", "x " + secret, " -X " + secret + "\n", "x <redacted>"},
		{"nothing redacted without a value", "a -X b", "find-generic-password\n", "a -X b"},
		{"an empty value redacts nothing", "ab", "add-generic-password -X \n", "ab"},
		{"300 bytes kept whole", at300, "", at300},
		{"301 bytes cut to 300", at300 + "!", "", at300 + "…"},
		{"a character across the cut is not split", strings.Repeat("m", 299) + "é and more", "", strings.Repeat("m", 299) + "…"},
		{"no character boundary at all", strings.Repeat("\x80", 301), "", "…"},
		{"cut after redaction", strings.Repeat("m", 290) + secret, line, strings.Repeat("m", 290) + "<redacted>"},
	} {
		if got := securityMessage([]byte(tc.stderr), []byte(tc.stdin)); got != tc.want {
			t.Errorf("%s: securityMessage(%q, %q) = %q; want %q", tc.name, tc.stderr, tc.stdin, got, tc.want)
		}
	}
}
