package aws

import (
	"context"
	"time"

	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source"
)

// Descriptor is source bedrock: settings section aws, turned on by a truthy
// $CLAUDE_CODE_USE_BEDROCK (variables.use_bedrock) or aws.enabled, signing
// requests with SigV4 for service bedrock.
func Descriptor() source.Descriptor {
	return source.Descriptor{
		Name:    Name,
		Order:   100,
		Section: "aws",
		Settings: append([]source.Setting{
			{Key: "enabled", Default: false, Help: "use source bedrock even without $CLAUDE_CODE_USE_BEDROCK"},
		}, chainSettings()...),
		Variables: []source.Variable{
			{Key: "use_bedrock", Name: EnvUseBedrock, Help: "variable that, truthy, turns on source bedrock"},
			// Not Secret: a child of credchain exec that talks to Bedrock
			// itself (Claude Code with CLAUDE_CODE_USE_BEDROCK) needs it.
			bearerTokenVariable(),
			{Key: "skip_bedrock_auth", Name: EnvSkipBedrockAuth, Help: "variable that, truthy, makes source bedrock sign nothing (a proxy adds the credential)"},
		},
		Enabled: func(in source.Input) bool {
			var o Options
			return in.Decode(&o) == nil && (o.Enabled || resolver.Truthy(in.Getenv(in.Variable("use_bedrock"))))
		},
		New: func(_ context.Context, in source.Input) (resolver.Source, error) {
			var o Options
			if err := in.Decode(&o); err != nil {
				return nil, err
			}
			o.Output, o.Getenv, o.ScrubEnv = in.Output(), in.Getenv, in.SecretVariables()
			o.EnableVariable, o.BearerTokenVariable = in.Variable("use_bedrock"), in.Variable("bedrock_bearer_token")
			o.SkipVariable = in.Variable("skip_bedrock_auth")
			return New(o), nil
		},
		Signer:     func() resolver.Signer { return NewSigner() },
		SignerKind: resolver.KindAWS,
	}
}

// chainSettings are the aws.* keys of the AWS credential chain, shared by
// the three AWS-signed sources (bedrock, anthropic-aws, mantle), as Claude
// Code's awsAuthRefresh and awsCredentialExport serve all three.
func chainSettings() []source.Setting {
	return []source.Setting{
		{Key: "profile", Default: "", Help: "shared-config profile (else $AWS_PROFILE)"},
		{Key: "region", Default: "", Help: "AWS region (else the SDK's)"},
		{Key: "role_arn", Default: "", Help: "role assumed through STS after the default credential chain"},
		{Key: "role_session_name", Default: "", Help: "session name for role_arn"},
		{Key: "auth_refresh", Default: "", Alias: "awsAuthRefresh", Help: "command run when the AWS credentials are invalid (e.g. aws sso login)"},
		{Key: "auth_refresh_timeout", Default: 3 * time.Minute, Check: source.Positive, Help: "time limit of auth_refresh"},
		{Key: "credential_export", Default: "", Alias: "awsCredentialExport", Help: "command printing STS-shaped JSON credentials"},
	}
}

// bearerTokenVariable is AWS_BEARER_TOKEN_BEDROCK, read by bedrock and mantle.
// Not Secret: a child of credchain exec that talks to Bedrock itself
// (Claude Code with CLAUDE_CODE_USE_BEDROCK) needs it.
func bearerTokenVariable() source.Variable {
	return source.Variable{Key: "bedrock_bearer_token", Name: EnvBearerToken, Help: "variable whose value is sent to Bedrock as a bearer token instead of SigV4"}
}
