package federation

import (
	"context"

	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source"
)

// Descriptor is source federation, placed where Claude Code puts profile and
// federation credentials: below the environment's tokens and keys, the
// API-key helper and the OAuth token variables, above a stored login.
func Descriptor() source.Descriptor {
	return source.Descriptor{
		Name:    Name,
		Order:   415,
		Section: "federation",
		Settings: []source.Setting{
			{Key: "base_url", Default: "", Check: source.HTTPURL, Help: "where the identity token is exchanged (else $ANTHROPIC_BASE_URL, the profile's, https://api.anthropic.com)"},
			{Key: "profile", Default: "", Help: "Anthropic profile to use (else $ANTHROPIC_PROFILE)"},
			{Key: "config_dir", Default: "", Help: "profiles directory (else $ANTHROPIC_CONFIG_DIR, $XDG_CONFIG_HOME/anthropic, ~/.config/anthropic)"},
		},
		Variables: []source.Variable{
			{Name: EnvRuleID, Help: "federation rule id (fdrl_...); with ANTHROPIC_ORGANIZATION_ID turns on source federation"},
			{Name: EnvOrganizationID, Help: "organization UUID for the exchange"},
			{Name: EnvServiceAccountID, Help: "service account (svac_...) for service-account rules"},
			{Name: EnvWorkspaceID, Help: "workspace (wrkspc_... or default) when the rule spans several"},
			{Name: EnvIdentityTokenFile, Help: "file holding the platform's OIDC token, re-read on every exchange"},
			{Name: EnvIdentityToken, Secret: true, Help: "the OIDC identity token itself"},
			{Name: EnvProfile, Help: "Anthropic profile name (configs/<name>.json)"},
			{Name: EnvConfigDir, Help: "Anthropic config directory"},
		},
		Enabled: func(in source.Input) bool {
			src, err := build(in)
			return err == nil && src.Probe() == nil
		},
		New: func(_ context.Context, in source.Input) (resolver.Source, error) { return build(in) },
	}
}

func build(in source.Input) (*Source, error) {
	var o Options
	if err := in.Decode(&o); err != nil {
		return nil, err
	}
	o.Getenv = in.Getenv
	return New(o), nil
}
