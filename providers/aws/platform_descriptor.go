package aws

import (
	"context"

	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source"
)

// platformSettings decodes section aws for anthropic-aws and mantle: the
// shared chain keys plus each source's own switch.
type platformSettings struct {
	Options             `mapstructure:",squash"`
	AnthropicAWSEnabled bool   `mapstructure:"anthropic_aws_enabled"`
	WorkspaceIDSetting  string `mapstructure:"anthropic_aws_workspace_id"`
	MantleEnabled       bool   `mapstructure:"mantle_enabled"`
}

// platformOptions decodes section aws and returns the chain options with
// the program's output, environment and secret variables wired in; the
// caller adds its own switch and variables.
func platformOptions(in source.Input) (platformSettings, Options, error) {
	var o platformSettings
	if err := in.Decode(&o); err != nil {
		return o, Options{}, err
	}
	opts := o.Options
	opts.Output, opts.Getenv, opts.ScrubEnv = in.Output(), in.Getenv, in.SecretVariables()
	return o, opts, nil
}

// AnthropicAWSDescriptor is source anthropic-aws (Claude Platform on AWS):
// turned on by a truthy $CLAUDE_CODE_USE_ANTHROPIC_AWS or
// aws.anthropic_aws_enabled; the aws.* chain keys are shared with bedrock.
func AnthropicAWSDescriptor() source.Descriptor {
	enabled := func(in source.Input) (platformSettings, bool) {
		var o platformSettings
		err := in.Decode(&o)
		return o, err == nil && (o.AnthropicAWSEnabled || resolver.Truthy(in.Getenv(in.Variable("use_anthropic_aws"))))
	}
	return source.Descriptor{
		Name:    NameAnthropicAWS,
		Order:   120,
		Section: "aws",
		Settings: append([]source.Setting{
			{Key: "anthropic_aws_enabled", Default: false, Help: "use source anthropic-aws even without $CLAUDE_CODE_USE_ANTHROPIC_AWS"},
			{Key: "anthropic_aws_workspace_id", Default: "", Help: "workspace of Claude Platform on AWS (else $ANTHROPIC_AWS_WORKSPACE_ID)"},
		}, chainSettings()...),
		Variables: []source.Variable{
			{Key: "use_anthropic_aws", Name: EnvUseAnthropicAWS, Help: "variable that, truthy, turns on source anthropic-aws"},
			{Key: "anthropic_aws_api_key", Name: EnvAnthropicAWSAPIKey, Secret: true, Help: "workspace key of Claude Platform on AWS, sent as x-api-key instead of SigV4"},
			{Key: "anthropic_aws_workspace_id", Name: EnvAnthropicAWSWorkspaceID, Help: "workspace id sent as anthropic-workspace-id (required)"},
			{Key: "skip_anthropic_aws_auth", Name: EnvSkipAnthropicAWSAuth, Help: "variable that, truthy, makes source anthropic-aws sign nothing (a proxy adds the credential)"},
			{Name: EnvAnthropicAWSBaseURL, Help: "endpoint of Claude Platform on AWS (status, children)"},
		},
		Enabled: func(in source.Input) bool { _, on := enabled(in); return on },
		New: func(_ context.Context, in source.Input) (resolver.Source, error) {
			o, opts, err := platformOptions(in)
			if err != nil {
				return nil, err
			}
			opts.Enabled = o.AnthropicAWSEnabled
			opts.WorkspaceID = o.WorkspaceIDSetting
			opts.EnableVariable, opts.BearerTokenVariable = in.Variable("use_anthropic_aws"), in.Variable("anthropic_aws_api_key")
			opts.WorkspaceVariable, opts.SkipVariable = in.Variable("anthropic_aws_workspace_id"), in.Variable("skip_anthropic_aws_auth")
			return NewAnthropicAWS(opts), nil
		},
		Signer:     func() resolver.Signer { return NewSigner(WithService(SigningNameAnthropicAWS)) },
		SignerKind: resolver.KindAWS,
	}
}

// MantleDescriptor is source mantle (Bedrock Mantle): turned on by a truthy
// $CLAUDE_CODE_USE_MANTLE or aws.mantle_enabled; the aws.* chain keys are
// shared with bedrock.
func MantleDescriptor() source.Descriptor {
	return source.Descriptor{
		Name:    NameMantle,
		Order:   130,
		Section: "aws",
		Settings: append([]source.Setting{
			{Key: "mantle_enabled", Default: false, Help: "use source mantle even without $CLAUDE_CODE_USE_MANTLE"},
		}, chainSettings()...),
		Variables: []source.Variable{
			{Key: "use_mantle", Name: EnvUseMantle, Help: "variable that, truthy, turns on source mantle"},
			bearerTokenVariable(),
			{Key: "skip_mantle_auth", Name: EnvSkipMantleAuth, Help: "variable that, truthy, makes source mantle sign nothing (a proxy adds the credential)"},
			{Name: EnvMantleBaseURL, Help: "endpoint of Bedrock Mantle (status, children)"},
		},
		Enabled: func(in source.Input) bool {
			var o platformSettings
			return in.Decode(&o) == nil && (o.MantleEnabled || resolver.Truthy(in.Getenv(in.Variable("use_mantle"))))
		},
		New: func(_ context.Context, in source.Input) (resolver.Source, error) {
			o, opts, err := platformOptions(in)
			if err != nil {
				return nil, err
			}
			opts.Enabled = o.MantleEnabled
			opts.EnableVariable, opts.BearerTokenVariable = in.Variable("use_mantle"), in.Variable("bedrock_bearer_token")
			opts.SkipVariable = in.Variable("skip_mantle_auth")
			return NewMantle(opts), nil
		},
		Signer:     func() resolver.Signer { return NewSigner(WithService(SigningNameMantle)) },
		SignerKind: resolver.KindAWS,
	}
}
