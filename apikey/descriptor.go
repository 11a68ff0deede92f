package apikey

import (
	"context"
	"strings"
	"time"

	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source"
)

// Source names of this package's descriptors.
const (
	AuthTokenName  = "auth-token"
	APIKeyName     = "api-key"
	OAuthTokenName = "oauth-token"
)

// envDescriptor describes a source that takes its credential from one
// environment variable, renameable as variables.<key>.
func envDescriptor(name string, order int, key, variable string, kind resolver.Kind, help string) source.Descriptor {
	return source.Descriptor{
		Name:  name,
		Order: order,
		Variables: []source.Variable{
			{Key: key, Name: variable, Secret: true, Help: help},
		},
		Enabled: func(in source.Input) bool {
			return strings.TrimSpace(in.Getenv(in.Variable(key))) != ""
		},
		New: func(_ context.Context, in source.Input) (resolver.Source, error) {
			return NewEnv(name, in.Variable(key), kind, in.Getenv), nil
		},
	}
}

// AuthTokenDescriptor is source auth-token: a bearer token from
// $ANTHROPIC_AUTH_TOKEN (setting variables.auth_token).
func AuthTokenDescriptor() source.Descriptor {
	return envDescriptor(AuthTokenName, 300, "auth_token", "ANTHROPIC_AUTH_TOKEN", resolver.KindBearer,
		"variable of source auth-token (bearer)")
}

// APIKeyDescriptor is source api-key: an API key from $ANTHROPIC_API_KEY
// (setting variables.api_key).
func APIKeyDescriptor() source.Descriptor {
	return envDescriptor(APIKeyName, 310, "api_key", "ANTHROPIC_API_KEY", resolver.KindAPIKey,
		"variable of source api-key")
}

// OAuthTokenDescriptor is source oauth-token: a bearer token from
// $CLAUDE_CODE_OAUTH_TOKEN (setting variables.oauth_token).
func OAuthTokenDescriptor() source.Descriptor {
	return envDescriptor(OAuthTokenName, 400, "oauth_token", "CLAUDE_CODE_OAUTH_TOKEN", resolver.KindBearer,
		"variable of source oauth-token (bearer)")
}

// HelperSettings are the settings of source api-key-helper (top-level keys).
type HelperSettings struct {
	Command string        `mapstructure:"api_key_helper"`
	TTL     time.Duration `mapstructure:"api_key_helper_ttl"`
	Timeout time.Duration `mapstructure:"api_key_helper_timeout"`
}

// HelperDescriptor is source api-key-helper: the key printed by the command
// of setting api_key_helper (Claude Code's apiKeyHelper).
func HelperDescriptor() source.Descriptor {
	return source.Descriptor{
		Name:  DefaultHelperName,
		Order: 330,
		Settings: []source.Setting{
			{Key: "api_key_helper", Default: "", Alias: "apiKeyHelper", Secret: true,
				Help: "shell command (run by /bin/sh) whose stdout is the API key"},
			{Key: "api_key_helper_ttl", Default: DefaultTTL, Check: source.Positive,
				Help:         "how long a helper's key is used before the helper runs again (default: $CLAUDE_CODE_API_KEY_HELPER_TTL_MS, else 5m)",
				FromVariable: "api_key_helper_ttl_ms",
				ParseVariable: func(v string) (any, error) {
					return ParseTTLms(v)
				}},
			{Key: "api_key_helper_timeout", Default: DefaultTimeout, Check: source.Positive,
				Help: "time limit of one helper run"},
		},
		Variables: []source.Variable{
			{Key: "api_key_helper_ttl_ms", Name: "CLAUDE_CODE_API_KEY_HELPER_TTL_MS",
				Help: "variable giving the default api_key_helper_ttl in milliseconds"},
		},
		Enabled: func(in source.Input) bool {
			var s HelperSettings
			return in.Decode(&s) == nil && strings.TrimSpace(s.Command) != ""
		},
		New: func(_ context.Context, in source.Input) (resolver.Source, error) {
			var s HelperSettings
			if err := in.Decode(&s); err != nil {
				return nil, err
			}
			return NewHelper(HelperOptions{Name: DefaultHelperName, Command: s.Command, TTL: s.TTL, Timeout: s.Timeout,
				ScrubEnv: in.SecretVariables()}), nil
		},
	}
}
