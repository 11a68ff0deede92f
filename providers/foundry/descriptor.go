package foundry

import (
	"context"

	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source"
)

// Descriptor is source foundry: settings section foundry, turned on by a
// truthy $CLAUDE_CODE_USE_FOUNDRY (variables.use_foundry) or
// foundry.enabled. Its credentials are plain headers (x-api-key or
// Authorization: Bearer), so it brings no signer.
func Descriptor() source.Descriptor {
	return source.Descriptor{
		Name:    Name,
		Order:   110,
		Section: "foundry",
		Settings: []source.Setting{
			{Key: "enabled", Default: false, Help: "use source foundry even without $CLAUDE_CODE_USE_FOUNDRY"},
			{Key: "resource", Default: "", Help: "Foundry resource name (else $ANTHROPIC_FOUNDRY_RESOURCE)"},
			{Key: "base_url", Default: "", Check: source.HTTPURL, Help: "Foundry endpoint (else $ANTHROPIC_FOUNDRY_BASE_URL, else https://{resource}.services.ai.azure.com/anthropic)"},
			{Key: "scope", Default: DefaultScope, Help: "Entra ID scope of the token (the platform docs use https://ai.azure.com/.default)"},
			{Key: "tenant_id", Default: "", Help: "default tenant of DefaultAzureCredential"},
		},
		Variables: []source.Variable{
			{Key: "use_foundry", Name: EnvUseFoundry, Help: "variable that, truthy, turns on source foundry"},
			{Key: "foundry_api_key", Name: EnvAPIKey, Secret: true, Help: "Foundry API key, sent as x-api-key instead of an Entra token"},
			{Key: "foundry_resource", Name: EnvResource, Help: "Foundry resource name"},
			{Key: "foundry_base_url", Name: EnvBaseURL, Help: "Foundry endpoint"},
			{Key: "skip_foundry_auth", Name: EnvSkipAuth, Help: "variable that, truthy, makes source foundry send no credential (a proxy adds it)"},
		},
		Enabled: func(in source.Input) bool {
			var o Options
			return in.Decode(&o) == nil && (o.Enabled || resolver.Truthy(in.Getenv(in.Variable("use_foundry"))))
		},
		New: func(_ context.Context, in source.Input) (resolver.Source, error) {
			var o Options
			if err := in.Decode(&o); err != nil {
				return nil, err
			}
			o.Getenv = in.Getenv
			o.EnableVariable, o.APIKeyVariable = in.Variable("use_foundry"), in.Variable("foundry_api_key")
			o.ResourceVariable, o.BaseURLVariable = in.Variable("foundry_resource"), in.Variable("foundry_base_url")
			o.SkipVariable = in.Variable("skip_foundry_auth")
			return New(o), nil
		},
	}
}
