package gateway

import (
	"context"

	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source"
)

// Descriptor is source gateway, first in the default chain: a signed-in
// gateway session outranks every other credential and provider flag, as in
// Claude Code.
func Descriptor() source.Descriptor {
	return source.Descriptor{
		Name:    Name,
		Order:   50,
		Section: "gateway",
		Settings: []source.Setting{
			{Key: "enabled", Default: false, Help: "use source gateway even without $CLAUDE_CODE_USE_GATEWAY"},
		},
		Variables: []source.Variable{
			{Key: "use_gateway", Name: EnvUseGateway, Help: "variable that, truthy, turns on source gateway"},
			{Key: "gateway_base_url", Name: EnvBaseURL, Help: "the gateway's URL (source gateway)"},
			{Key: "auth_token", Name: EnvAuthToken, Secret: true, Help: "variable of source auth-token (bearer)"},
		},
		Enabled: func(in source.Input) bool {
			var o Options
			return in.Decode(&o) == nil && (o.Enabled || resolver.Truthy(in.Getenv(in.Variable("use_gateway"))))
		},
		New: func(_ context.Context, in source.Input) (resolver.Source, error) {
			var o Options
			if err := in.Decode(&o); err != nil {
				return nil, err
			}
			o.Getenv = in.Getenv
			o.EnableVariable, o.BaseURLVariable, o.TokenVariable = in.Variable("use_gateway"), in.Variable("gateway_base_url"), in.Variable("auth_token")
			return New(o), nil
		},
	}
}
