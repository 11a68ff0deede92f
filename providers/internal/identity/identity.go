// Package identity builds the Identity string of a provider's source
// (resolver.Identifier): space-separated key=value pairs of everything that
// decides whose credential a stored record holds, in the order added, with
// empty values left out so a setting that is not set does not change the
// key of records stored before it existed.
package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Builder collects the pairs. The zero value is ready to use.
type Builder struct{ parts []string }

// Add appends key=value when value is not empty.
func (b *Builder) Add(key, value string) {
	if value != "" {
		b.parts = append(b.parts, key+"="+value)
	}
}

// AddHash appends key=sha256:<12 hex digits> of value when value is not
// empty: for a setting that tells identities apart but may embed a secret
// (an export command), since the identity is shown by status.
func (b *Builder) AddHash(key, value string) {
	if value != "" {
		sum := sha256.Sum256([]byte(value))
		b.Add(key, "sha256:"+hex.EncodeToString(sum[:6]))
	}
}

// AddEnv appends, for each variable name, its lower-cased name and value
// when getenv returns one.
func (b *Builder) AddEnv(getenv func(string) string, names ...string) {
	for _, n := range names {
		b.Add(strings.ToLower(n), getenv(n))
	}
}

// String is the identity.
func (b *Builder) String() string { return strings.Join(b.parts, " ") }
