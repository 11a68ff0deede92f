package resolver

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"strconv"
)

// Secret holds a secret string. Every way of printing it — String, Format
// with any verb, GoString, JSON, text and slog — shows a mask, so a careless
// %v or log line cannot leak it. Reveal returns the secret itself.
type Secret struct {
	v string
}

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the secret. Call it only where the secret must leave the
// process: a request header, a child's stdin, the store.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

// Equal compares two secrets in constant time.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.v), []byte(o.v)) == 1
}

// Mask is how a secret is shown: "" for an empty secret, "****" for a short
// one, and "****" followed by the last 4 characters when the secret is at
// least 16 characters long (so at most a quarter of it is ever visible).
func (s Secret) Mask() string { return maskString(s.v) }

func maskString(v string) string {
	switch {
	case v == "":
		return ""
	case len(v) < 16:
		return "****"
	default:
		return "****" + v[len(v)-4:]
	}
}

// String returns the mask.
func (s Secret) String() string { return s.Mask() }

// GoString returns the mask, so %#v is safe too.
func (s Secret) GoString() string { return "resolver.Secret(" + strconv.Quote(s.Mask()) + ")" }

// Format writes the mask for every verb.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	if verb == 'q' {
		_, _ = f.Write([]byte(strconv.Quote(s.Mask())))
		return
	}
	_, _ = f.Write([]byte(s.Mask()))
}

// MarshalJSON writes the mask. The store encodes secrets through its own
// record type, never through this method.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.Mask())), nil }

// MarshalText writes the mask, for encoders that use encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.Mask()), nil }

// LogValue makes slog print the mask.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.Mask()) }
