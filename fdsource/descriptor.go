package fdsource

import (
	"context"

	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source"
)

// Source names of this package's descriptors.
const (
	APIKeyName     = "api-key-fd"
	OAuthTokenName = "oauth-token-fd"
)

func descriptor(name string, order int, key, variable string, kind resolver.Kind, help string) source.Descriptor {
	return source.Descriptor{
		Name:  name,
		Order: order,
		// Secret: a child must not try to read a descriptor credchain has
		// already drained (nor inherit one it has not).
		Variables: []source.Variable{{Key: key, Name: variable, Secret: true, Help: help}},
		// Set at all is on, as Probe says: a value that is not a descriptor
		// number is a configured source that fails, naming the variable.
		Enabled: func(in source.Input) bool {
			return in.Getenv(in.Variable(key)) != ""
		},
		New: func(_ context.Context, in source.Input) (resolver.Source, error) {
			return New(name, in.Variable(key), kind, in.Getenv), nil
		},
	}
}

// APIKeyDescriptor is source api-key-fd: an API key read from the
// descriptor numbered by $CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR (setting
// variables.api_key_fd).
func APIKeyDescriptor() source.Descriptor {
	return descriptor(APIKeyName, 320, "api_key_fd", "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR", resolver.KindAPIKey,
		"variable holding the descriptor number of source api-key-fd")
}

// OAuthTokenDescriptor is source oauth-token-fd: a bearer token read from
// the descriptor numbered by $CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR
// (setting variables.oauth_token_fd).
func OAuthTokenDescriptor() source.Descriptor {
	return descriptor(OAuthTokenName, 410, "oauth_token_fd", "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR", resolver.KindBearer,
		"variable holding the descriptor number of source oauth-token-fd")
}
