package aws

import (
	"fmt"
	"maps"
	"strings"

	"github.com/credchain/credchain/providers/internal/skipauth"
	"github.com/credchain/credchain/resolver"
)

// Names of the other AWS-signed sources.
const (
	// NameAnthropicAWS is Claude Platform on AWS: the Anthropic API,
	// operated by Anthropic, billed and authorised through AWS.
	NameAnthropicAWS = "anthropic-aws"
	// NameMantle is Amazon Bedrock's Mantle endpoint, which serves the
	// Anthropic Messages API shape.
	NameMantle = "mantle"
)

// SigV4 signing names of the three services.
const (
	SigningNameAnthropicAWS = "aws-external-anthropic"
	SigningNameMantle       = "bedrock-mantle"
)

// Environment variables of the other AWS-signed sources, as Claude Code
// names them.
const (
	EnvUseAnthropicAWS         = "CLAUDE_CODE_USE_ANTHROPIC_AWS"
	EnvAnthropicAWSAPIKey      = "ANTHROPIC_AWS_API_KEY"
	EnvAnthropicAWSWorkspaceID = "ANTHROPIC_AWS_WORKSPACE_ID"
	EnvAnthropicAWSBaseURL     = "ANTHROPIC_AWS_BASE_URL"
	EnvUseMantle               = "CLAUDE_CODE_USE_MANTLE"
	EnvMantleBaseURL           = "ANTHROPIC_BEDROCK_MANTLE_BASE_URL"
	EnvSkipBedrockAuth         = "CLAUDE_CODE_SKIP_BEDROCK_AUTH"
	EnvSkipAnthropicAWSAuth    = "CLAUDE_CODE_SKIP_ANTHROPIC_AWS_AUTH"
	EnvSkipMantleAuth          = "CLAUDE_CODE_SKIP_MANTLE_AUTH"
	EnvAuthToken               = skipauth.AuthTokenVariable
)

// HeaderWorkspaceID carries the workspace of Claude Platform on AWS on
// every request.
const HeaderWorkspaceID = "anthropic-workspace-id"

// variant is what tells the three AWS-signed sources apart; the chain, the
// commands and the signer are shared.
type variant struct {
	name    string        // source name and store key
	service string        // SigV4 signing name
	enable  string        // CLAUDE_CODE_USE_*
	key     string        // key variable sent instead of signing
	keyKind resolver.Kind // how that key is sent
	skip    string        // CLAUDE_CODE_SKIP_*_AUTH
	baseEnv string        // base URL override variable
	baseFmt string        // default base URL, %s = region
}

func bedrockVariant() variant {
	return variant{
		name: Name, service: SigningName, enable: EnvUseBedrock, key: EnvBearerToken, keyKind: resolver.KindBearer,
		skip: EnvSkipBedrockAuth, baseEnv: "ANTHROPIC_BEDROCK_BASE_URL", baseFmt: "https://bedrock-runtime.%s.amazonaws.com",
	}
}

func anthropicAWSVariant() variant {
	return variant{
		name: NameAnthropicAWS, service: SigningNameAnthropicAWS, enable: EnvUseAnthropicAWS, key: EnvAnthropicAWSAPIKey,
		keyKind: resolver.KindAPIKey, skip: EnvSkipAnthropicAWSAuth, baseEnv: EnvAnthropicAWSBaseURL,
		baseFmt: "https://aws-external-anthropic.%s.api.aws",
	}
}

func mantleVariant() variant {
	return variant{
		name: NameMantle, service: SigningNameMantle, enable: EnvUseMantle, key: EnvBearerToken, keyKind: resolver.KindBearer,
		skip: EnvSkipMantleAuth, baseEnv: EnvMantleBaseURL, baseFmt: "https://bedrock-mantle.%s.api.aws/anthropic",
	}
}

// NewAnthropicAWS returns the "anthropic-aws" source (Claude Platform on
// AWS, CLAUDE_CODE_USE_ANTHROPIC_AWS): ANTHROPIC_AWS_API_KEY sent as
// x-api-key, else AWS credentials from the same chain as Bedrock, signed
// for service aws-external-anthropic. Either way every request carries
// ANTHROPIC_AWS_WORKSPACE_ID as anthropic-workspace-id (required).
// Options.AuthRefresh and CredentialExport work as for Bedrock.
func NewAnthropicAWS(opts Options) *Source { return newVariant(opts, anthropicAWSVariant()) }

// NewMantle returns the "mantle" source (Bedrock Mantle,
// CLAUDE_CODE_USE_MANTLE): AWS_BEARER_TOKEN_BEDROCK as a bearer token, else
// AWS credentials from the same chain as Bedrock, signed for service
// bedrock-mantle.
func NewMantle(opts Options) *Source { return newVariant(opts, mantleVariant()) }

// SigningName returns the SigV4 service name the source's credentials are
// signed for.
func (s *Source) SigningName() string { return s.v.service }

// ChildEnv implements resolver.EnvExporter: a key goes back to a child in
// the variable its SDK reads for this provider (AWS_BEARER_TOKEN_BEDROCK,
// ANTHROPIC_AWS_API_KEY), with the workspace of Claude Platform on AWS;
// AWS keys use the kind's defaults (plus the workspace).
func (s *Source) ChildEnv(cred *resolver.Credential) []string {
	if s.v.name == Name {
		return nil // bedrock keeps its established variables
	}
	var env []string
	switch cred.Kind {
	case resolver.KindAPIKey, resolver.KindBearer:
		if cred.Meta["auth"] == s.opts.BearerTokenVariable {
			env = append(env, s.opts.BearerTokenVariable+"="+cred.Token.Reveal())
		} else {
			env = append(env, EnvAuthToken+"="+cred.Token.Reveal())
		}
	default:
		return nil
	}
	if ws := s.workspace(); ws != "" && s.opts.WorkspaceVariable != "" {
		env = append(env, s.opts.WorkspaceVariable+"="+ws)
	}
	return env
}

func (s *Source) skipped() bool { return resolver.Truthy(s.opts.Getenv(s.opts.SkipVariable)) }

func (s *Source) workspace() string {
	if s.opts.WorkspaceID != "" {
		return s.opts.WorkspaceID
	}
	if s.opts.WorkspaceVariable == "" {
		return ""
	}
	return strings.TrimSpace(s.opts.Getenv(s.opts.WorkspaceVariable))
}

func (s *Source) baseURL() string {
	if s.opts.BaseURL != "" {
		return s.opts.BaseURL
	}
	if u := s.opts.Getenv(s.v.baseEnv); u != "" {
		return u
	}
	if r := s.region(); r != "" {
		return fmt.Sprintf(s.v.baseFmt, r)
	}
	return ""
}

// checkVariant reports what a variant needs before any credential is worth
// fetching: Claude Platform on AWS refuses every request without a
// workspace.
func (s *Source) checkVariant() error {
	if s.v.name == NameAnthropicAWS && !s.skipped() && s.workspace() == "" {
		return fmt.Errorf("%s is not set: Claude Platform on AWS needs the workspace id (wrkspc_...) sent as %s on every request; find it in the Console of the organization your AWS Marketplace subscription created", s.opts.WorkspaceVariable, HeaderWorkspaceID)
	}
	return nil
}

// skipCredential is what a source sends when its SKIP variable is set.
func (s *Source) skipCredential() *resolver.Credential {
	return s.finish(skipauth.Credential(s.v.name, s.opts.SkipVariable, s.opts.Getenv, nil))
}

// finish stamps the variant on a credential: the signing name and the
// workspace header.
func (s *Source) finish(cred *resolver.Credential) *resolver.Credential {
	if cred == nil {
		return nil
	}
	if cred.AWS != nil {
		cred.AWS.Service = s.v.service
	}
	if s.v.name == Name {
		return cred
	}
	meta := maps.Clone(cred.Meta)
	if meta == nil {
		meta = map[string]string{}
	}
	if cred.Kind == resolver.KindAWS {
		meta["service"] = s.v.service
	}
	if ws := s.workspace(); ws != "" {
		meta["workspace_id"] = ws
		cred.Headers = map[string]string{HeaderWorkspaceID: ws}
	}
	cred.Meta = meta
	return cred
}

// describeVariant adds the endpoint facts of the other AWS sources to
// status.
func (s *Source) describeVariant(m map[string]string) {
	if s.v.name == Name {
		return
	}
	m["service"] = s.v.service
	if u := s.baseURL(); u != "" {
		m["base_url"] = u
	}
	if ws := s.workspace(); ws != "" {
		m["workspace_id"] = ws
	}
}
