// Package foundry is the Microsoft Foundry credential source ("foundry"),
// as Claude Code reads it: CLAUDE_CODE_USE_FOUNDRY turns it on,
// ANTHROPIC_FOUNDRY_API_KEY is sent as an API key, and otherwise a
// Microsoft Entra ID token from azidentity's DefaultAzureCredential
// (environment service principal, workload identity, managed identity, the
// Azure CLI, ...) is sent as a bearer token. CLAUDE_CODE_SKIP_FOUNDRY_AUTH
// sends nothing of the source's own, for a proxy that adds the credential.
//
// Entra tokens are refreshed by the resolver's scheduler and shared through
// the store like the other clouds' tokens. The source never caches: every
// Fetch builds the credential afresh, so azidentity's in-memory cache cannot
// hand back a token the API has just refused.
package foundry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/credchain/credchain/providers/internal/identity"
	"github.com/credchain/credchain/providers/internal/skipauth"
	"github.com/credchain/credchain/resolver"
)

// Name is the source's name: its store key and what status shows.
const Name = "foundry"

// DefaultScope is the Entra scope Claude Code asks for. Anthropic's platform
// docs use https://ai.azure.com/.default; set Options.Scope for that.
const DefaultScope = "https://cognitiveservices.azure.com/.default"

// Environment variables, as Claude Code names them.
const (
	EnvUseFoundry = "CLAUDE_CODE_USE_FOUNDRY"
	EnvAPIKey     = "ANTHROPIC_FOUNDRY_API_KEY"
	EnvResource   = "ANTHROPIC_FOUNDRY_RESOURCE"
	EnvBaseURL    = "ANTHROPIC_FOUNDRY_BASE_URL"
	EnvSkipAuth   = "CLAUDE_CODE_SKIP_FOUNDRY_AUTH"
	EnvAuthToken  = "ANTHROPIC_AUTH_TOKEN"
)

// tokenTimeout bounds one token request through the Azure chain: the
// managed-identity probe retries for up to a minute by itself.
const tokenTimeout = 90 * time.Second

// ErrNoCredential is matched by the error returned when no Azure credential
// in the chain produced a token (azidentity's reasons follow it).
var ErrNoCredential = errors.New("no Azure credential produced a token for Microsoft Foundry")

// Options configures the source. The zero value follows the environment, as
// Claude Code does.
type Options struct {
	// Enabled turns the source on without CLAUDE_CODE_USE_FOUNDRY
	// (foundry.enabled).
	Enabled bool `mapstructure:"enabled"`
	// Resource is the Foundry resource name (foundry.resource); empty means
	// ANTHROPIC_FOUNDRY_RESOURCE. Shown in status and exported to children.
	Resource string `mapstructure:"resource"`
	// BaseURL is the endpoint (foundry.base_url); empty means
	// ANTHROPIC_FOUNDRY_BASE_URL, else
	// https://{resource}.services.ai.azure.com/anthropic.
	BaseURL string `mapstructure:"base_url"`
	// Scope is the Entra scope (foundry.scope; DefaultScope when empty).
	Scope string `mapstructure:"scope"`
	// TenantID is the default tenant of DefaultAzureCredential
	// (foundry.tenant_id).
	TenantID string `mapstructure:"tenant_id"`
	// Credential, when set, replaces DefaultAzureCredential: an embedder
	// hands any azcore.TokenCredential (a ManagedIdentityCredential with a
	// user-assigned id, a ClientCertificateCredential, ...).
	Credential azcore.TokenCredential
	// CredentialIdentity names whose token Credential returns (its client
	// or managed identity id, tenant, ...) in the source's Identity: two
	// embedder credentials of one type with different values keep separate
	// store records. Not needed with DefaultAzureCredential, whose
	// identity is read from the AZURE_* variables.
	CredentialIdentity string
	// ClientOptions are passed to DefaultAzureCredential (transport, cloud,
	// retries).
	ClientOptions azcore.ClientOptions
	// DisableInstanceDiscovery skips Entra instance discovery, for private
	// clouds and for tests whose authority is on loopback.
	DisableInstanceDiscovery bool
	// Getenv reads the variables this package reads itself (os.Getenv when
	// nil); azidentity reads its own AZURE_* variables from the process.
	// Identity reads those AZURE_* variables through Getenv, so Getenv
	// must see the process environment (it does in the CLI).
	Getenv func(string) string
	// EnableVariable, APIKeyVariable, SkipVariable, ResourceVariable and
	// BaseURLVariable rename the variables (Claude Code's names when empty).
	EnableVariable, APIKeyVariable, SkipVariable, ResourceVariable, BaseURLVariable string
}

// Source is the "foundry" credential source. It is safe for concurrent use.
type Source struct {
	opts Options
}

// New returns the source. It does no I/O.
func New(opts Options) *Source {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Scope == "" {
		opts.Scope = DefaultScope
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&opts.EnableVariable, EnvUseFoundry)
	def(&opts.APIKeyVariable, EnvAPIKey)
	def(&opts.SkipVariable, EnvSkipAuth)
	def(&opts.ResourceVariable, EnvResource)
	def(&opts.BaseURLVariable, EnvBaseURL)
	return &Source{opts: opts}
}

// Name implements resolver.Source.
func (s *Source) Name() string { return Name }

// Probe implements resolver.Prober: the source applies when
// CLAUDE_CODE_USE_FOUNDRY is truthy or Options.Enabled is set.
func (s *Source) Probe() error {
	return resolver.ProbeSwitch(s.opts.Enabled, s.opts.Getenv, s.opts.EnableVariable)
}

// Persistent implements resolver.Persistent: Entra tokens are kept in the
// shared store; a key from the environment never is.
func (s *Source) Persistent() bool {
	return !s.skipped() && s.opts.Getenv(s.opts.APIKeyVariable) == ""
}

// ChildEnv implements resolver.EnvExporter: a key goes back to a child as
// ANTHROPIC_FOUNDRY_API_KEY (what Claude Code and the Foundry SDKs read);
// an Entra token as ANTHROPIC_AUTH_TOKEN, which a Foundry client takes
// with its endpoint (ANTHROPIC_FOUNDRY_BASE_URL) as a bearer token.
func (s *Source) ChildEnv(cred *resolver.Credential) []string {
	var env []string
	switch cred.Kind {
	case resolver.KindAPIKey:
		env = append(env, s.opts.APIKeyVariable+"="+cred.Token.Reveal())
	case resolver.KindBearer:
		env = append(env, EnvAuthToken+"="+cred.Token.Reveal())
	default:
		return nil
	}
	if u := s.baseURL(); u != "" {
		env = append(env, s.opts.BaseURLVariable+"="+u)
	}
	return env
}

// Describe implements resolver.Describer.
func (s *Source) Describe() map[string]string {
	m := map[string]string{}
	if r := s.resource(); r != "" {
		m["resource"] = r
	}
	if u := s.baseURL(); u != "" {
		m["base_url"] = u
	}
	switch {
	case s.skipped():
		m["auth"] = "none (" + s.opts.SkipVariable + ")"
	case s.opts.Getenv(s.opts.APIKeyVariable) != "":
		m["auth"] = s.opts.APIKeyVariable
	case s.opts.Credential != nil:
		m["auth"] = fmt.Sprintf("%T", s.opts.Credential)
		m["scope"] = s.opts.Scope
	default:
		m["auth"] = "azidentity DefaultAzureCredential"
		m["scope"] = s.opts.Scope
	}
	return m
}

// Azure variables that decide which Entra identity DefaultAzureCredential
// signs in as: which credentials of the chain it tries, the tenant, the
// client id (a service principal's, workload identity's, or a
// user-assigned managed identity's), the certificate, the user, the
// federated token file, the Azure CLI's profile directory (its signed-in
// account) and the authority host.
var azureIdentityVariables = []string{
	"AZURE_TOKEN_CREDENTIALS", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_CERTIFICATE_PATH",
	"AZURE_USERNAME", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CONFIG_DIR",
}

// Identity implements resolver.Identifier. Only the Entra path stores
// records (an API key from the environment never does), so the identity is
// that path's: the Azure credential (DefaultAzureCredential's deciding
// AZURE_* variables, or the embedder's credential type and
// CredentialIdentity), foundry.tenant_id, the authority host and the
// scope. Switching AZURE_CLIENT_ID or the tenant never serves another
// principal's stored token. The resource and base URL are left out: the
// token is for the scope, not for one resource, so resources of one tenant
// share it. No secret is read (AZURE_CLIENT_SECRET, AZURE_PASSWORD and
// the certificate's password are not identity).
func (s *Source) Identity() string {
	var b identity.Builder
	authority := s.opts.ClientOptions.Cloud.ActiveDirectoryAuthorityHost
	if s.opts.Credential != nil {
		b.Add("credential", fmt.Sprintf("%T", s.opts.Credential))
		b.Add("credential_identity", s.opts.CredentialIdentity)
	} else {
		b.Add("credential", "default")
		b.AddEnv(s.opts.Getenv, azureIdentityVariables...)
		if authority == "" {
			authority = s.opts.Getenv("AZURE_AUTHORITY_HOST")
		}
	}
	b.Add("tenant", s.opts.TenantID)
	b.Add("authority", authority)
	b.Add("scope", s.opts.Scope)
	return b.String()
}

var _ resolver.Identifier = (*Source)(nil)

func (s *Source) skipped() bool { return resolver.Truthy(s.opts.Getenv(s.opts.SkipVariable)) }

func (s *Source) resource() string {
	if s.opts.Resource != "" {
		return s.opts.Resource
	}
	return strings.TrimSpace(s.opts.Getenv(s.opts.ResourceVariable))
}

func (s *Source) baseURL() string {
	if s.opts.BaseURL != "" {
		return s.opts.BaseURL
	}
	if u := strings.TrimSpace(s.opts.Getenv(s.opts.BaseURLVariable)); u != "" {
		return u
	}
	if r := s.resource(); r != "" {
		return "https://" + r + ".services.ai.azure.com/anthropic"
	}
	return ""
}

// Fetch implements resolver.Source: nothing (SKIP), the key, or an Entra
// token.
func (s *Source) Fetch(ctx context.Context, prev *resolver.Credential) (*resolver.Credential, error) {
	meta := map[string]string{}
	if r := s.resource(); r != "" {
		meta["resource"] = r
	}
	if s.skipped() {
		return skipauth.Credential(Name, s.opts.SkipVariable, s.opts.Getenv, meta), nil
	}
	if key := s.opts.Getenv(s.opts.APIKeyVariable); key != "" {
		meta["auth"] = s.opts.APIKeyVariable
		return &resolver.Credential{Kind: resolver.KindAPIKey, Token: resolver.NewSecret(key), Source: Name, Meta: meta}, nil
	}
	cred, err := s.credential()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, tokenTimeout)
	defer cancel()
	tro := policy.TokenRequestOptions{Scopes: []string{s.opts.Scope}, TenantID: s.opts.TenantID}
	tok, err := cred.GetToken(ctx, tro)
	if err == nil && prev != nil && prev.Token.Reveal() == tok.Token && time.Now().Before(tok.ExpiresOn) {
		// The token the resolver already had, still valid: the API refused
		// it, or a refresh came early. MSAL keeps managed-identity tokens
		// in a process-wide cache that outlives our credential, and serves
		// cached tokens until shortly before expiry; a claims challenge is
		// the one documented way past that cache.
		tro.Claims = fmt.Sprintf(`{"access_token":{"nbf":{"essential":true,"value":"%d"}}}`, time.Now().Unix())
		tok, err = cred.GetToken(ctx, tro)
	}
	if err != nil {
		return nil, fmt.Errorf("%w (resource %q, scope %s): %w; set %s, sign in with `az login`, or configure a service principal, workload identity or managed identity", ErrNoCredential, s.resource(), s.opts.Scope, err, s.opts.APIKeyVariable)
	}
	if tok.Token == "" {
		return nil, fmt.Errorf("%w: the Azure credential returned an empty token", ErrNoCredential)
	}
	meta["auth"] = "entra"
	meta["scope"] = s.opts.Scope
	return &resolver.Credential{Kind: resolver.KindBearer, Token: resolver.NewSecret(tok.Token), Expiry: tok.ExpiresOn, Source: Name, Meta: meta}, nil
}

// credential is the embedder's credential or a new DefaultAzureCredential.
func (s *Source) credential() (azcore.TokenCredential, error) {
	if s.opts.Credential != nil {
		return s.opts.Credential, nil
	}
	c, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
		ClientOptions:            s.opts.ClientOptions,
		DisableInstanceDiscovery: s.opts.DisableInstanceDiscovery,
		TenantID:                 s.opts.TenantID,
	})
	if err != nil {
		// An invalid AZURE_TOKEN_CREDENTIALS, say.
		return nil, fmt.Errorf("building azidentity's DefaultAzureCredential: %w", err)
	}
	return c, nil
}
