// Package skipauth is Claude Code's CLAUDE_CODE_SKIP_*_AUTH for every
// provider source: the provider sends no credential of its own, for a proxy
// that adds it, and forwards ANTHROPIC_AUTH_TOKEN when set.
package skipauth

import "github.com/credchain/credchain/resolver"

// AuthTokenVariable is forwarded to the proxy as a bearer token when set.
const AuthTokenVariable = "ANTHROPIC_AUTH_TOKEN"

// Credential is what source sends while skipVariable is set: kind none, or
// the token in AuthTokenVariable as a bearer token. meta (may be nil) is
// extended with the auth fact and used as the credential's Meta.
func Credential(source, skipVariable string, getenv func(string) string, meta map[string]string) *resolver.Credential {
	if meta == nil {
		meta = map[string]string{}
	}
	meta["auth"] = "none (" + skipVariable + ")"
	cred := &resolver.Credential{Kind: resolver.KindNone, Source: source, Meta: meta}
	if tok := getenv(AuthTokenVariable); tok != "" {
		meta["auth"] = AuthTokenVariable + " (" + skipVariable + ")"
		cred.Kind, cred.Token = resolver.KindBearer, resolver.NewSecret(tok)
	}
	return cred
}
