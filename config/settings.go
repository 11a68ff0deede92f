package config

import (
	"io"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/resolver"
)

// Source names, in the default chain order (highest priority first).
const (
	SourceBedrock      = "bedrock"
	SourceVertex       = "vertex"
	SourceAuthToken    = "auth-token"
	SourceAPIKey       = "api-key"
	SourceAPIKeyFD     = "api-key-fd"
	SourceAPIKeyHelper = "api-key-helper"
	SourceOAuthToken   = "oauth-token"
	SourceOAuthTokenFD = "oauth-token-fd"
	SourceOAuth        = "oauth"
)

// DefaultChain returns the default source order, as in Claude Code. It is
// also the list of every source name credchain knows.
func DefaultChain() []string {
	return []string{
		SourceBedrock, SourceVertex, SourceAuthToken, SourceAPIKey, SourceAPIKeyFD,
		SourceAPIKeyHelper, SourceOAuthToken, SourceOAuthTokenFD, SourceOAuth,
	}
}

// Settings is the validated result of Load. Fields are read-only after Load;
// Build turns them into a resolver.Config.
type Settings struct {
	// Refresh is section refresh.
	Refresh RefreshSettings
	// Store is section store: the shared credential store.
	Store StoreSettings
	// APIKeyHelper is the shell command whose stdout is the API key (key
	// api_key_helper, alias apiKeyHelper); empty disables the source.
	APIKeyHelper string
	// APIKeyHelperTTL is how long a helper's key is used before the helper
	// runs again (key api_key_helper_ttl; default from the variable named
	// by variables.api_key_helper_ttl_ms, else 5m).
	APIKeyHelperTTL time.Duration
	// APIKeyHelperTimeout bounds one helper run (key api_key_helper_timeout).
	APIKeyHelperTimeout time.Duration
	// Variables names the environment variables the sources read.
	Variables Variables
	// OAuth is section oauth (credchain login).
	OAuth OAuthSettings
	// AWS is section aws (source bedrock).
	AWS AWSSettings
	// GCP is section gcp (source vertex).
	GCP GCPSettings
	// Git is section git (credchain git-credential).
	Git GitSettings
	// Docker is section docker (credchain docker-credential).
	Docker DockerSettings

	chain       []string
	file        string
	origins     map[string]string
	getenv      func(string) string
	interactive bool
	prompt      func(prompt string) (string, error)
	output      io.Writer
}

// RefreshSettings is section refresh.
type RefreshSettings struct {
	// Window is how long before expiry a credential is refreshed.
	Window time.Duration
}

// StoreSettings is section store.
type StoreSettings struct {
	// Backend is one of cache.Backends() ("auto" picks the first that works).
	Backend string
	// Dir holds the file backends, lock files and the plaintext file; empty
	// means the store's default directory.
	Dir string
	// Service is the keychain service (collection item prefix) name.
	Service string
	// Timeout bounds every store call.
	Timeout time.Duration
	// KeyCtlScope is the kernel keyring of the keyctl backend.
	KeyCtlScope string
}

// Variables are the names of the environment variables the sources read.
// Every one can be renamed in section variables.
type Variables struct {
	AuthToken          string // source auth-token
	APIKey             string // source api-key
	APIKeyFD           string // source api-key-fd
	OAuthToken         string // source oauth-token
	OAuthTokenFD       string // source oauth-token-fd
	APIKeyHelperTTLMs  string // default of api_key_helper_ttl, in milliseconds
	UseBedrock         string // truthy: source bedrock applies
	UseVertex          string // truthy: source vertex applies
	BedrockBearerToken string // sent as a bearer token to Bedrock instead of SigV4
}

// OAuthSettings is section oauth, used by credchain login and source oauth.
type OAuthSettings struct {
	Issuer           string            // OpenID discovery base URL
	AuthorizeURL     string            // explicit endpoints, instead of issuer
	TokenURL         string            //
	RevocationURL    string            // optional; used by logout
	ClientID         string            // a public client (no secret)
	Scopes           []string          //
	Redirect         string            // auto | loopback | paste
	PasteRedirectURI string            // a provider page that shows the code, or urn:ietf:wg:oauth:2.0:oob
	CallbackPort     int               // 0: an ephemeral port
	AuthorizeParams  map[string]string // extra authorize-request parameters
	LoginTimeout     time.Duration     // how long login waits for the browser or a pasted code
	NoConsentPrompt  bool              // no prompt=consent with offline_access
	DeviceAuthURL    string            // RFC 8628 endpoint, instead of discovery
}

// AWSSettings is section aws, used by source bedrock.
type AWSSettings struct {
	Enabled            bool          // also applies without CLAUDE_CODE_USE_BEDROCK
	Profile            string        // shared-config profile (else AWS_PROFILE)
	Region             string        //
	RoleARN            string        // assumed through STS after the default chain
	RoleSessionName    string        //
	AuthRefresh        string        // alias awsAuthRefresh, e.g. "aws sso login"
	AuthRefreshTimeout time.Duration //
	CredentialExport   string        // alias awsCredentialExport: prints STS-shaped JSON
}

// GCPSettings is section gcp, used by source vertex.
type GCPSettings struct {
	Enabled            bool          // also applies without CLAUDE_CODE_USE_VERTEX
	Project            string        //
	Region             string        //
	CredentialsFile    string        // explicit credentials file (else ADC)
	TokenURL           string        // token endpoint override for authorized-user files
	Scopes             []string      //
	AuthRefresh        string        // alias gcpAuthRefresh
	AuthRefreshTimeout time.Duration //
}

// GitSettings is section git.
type GitSettings struct {
	Hosts []string // hosts credchain git-credential answers for
}

// DockerSettings is section docker.
type DockerSettings struct {
	Servers []string // registries credchain docker-credential answers for
}

// File is the settings file that was read, or "" when there was none.
func (s *Settings) File() string { return s.file }

// Origin says where the value of key came from: "--flag", "$VARIABLE", the
// file path, or "default".
func (s *Settings) Origin(key string) string {
	if o, ok := s.origins[key]; ok {
		return o
	}
	return "default"
}

// Chain returns the source names in order (key chain; a copy).
func (s *Settings) Chain() []string { return append([]string(nil), s.chain...) }

// Interactive reports whether the settings were loaded for a session that
// may prompt (LoadOptions.Interactive).
func (s *Settings) Interactive() bool { return s.interactive }

// Getenv reads the environment the settings were loaded with.
func (s *Settings) Getenv(name string) string { return s.getenv(name) }

// CredentialVariables returns the names of every variable that carries a
// credential or points at one (tokens, keys, descriptors), as configured.
// credchain exec removes them from a child's environment.
func (s *Settings) CredentialVariables() []string {
	v := s.Variables
	return []string{v.AuthToken, v.APIKey, v.APIKeyFD, v.OAuthToken, v.OAuthTokenFD}
}

func defaultSettings() Settings {
	return Settings{
		chain:               DefaultChain(),
		Refresh:             RefreshSettings{Window: resolver.DefaultRefreshWindow},
		Store:               StoreSettings{Backend: "auto", Service: cache.DefaultService, Timeout: cache.DefaultTimeout, KeyCtlScope: "user"},
		APIKeyHelperTTL:     5 * time.Minute,
		APIKeyHelperTimeout: 10 * time.Minute,
		Variables: Variables{
			AuthToken:          "ANTHROPIC_AUTH_TOKEN",
			APIKey:             "ANTHROPIC_API_KEY",
			APIKeyFD:           "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR",
			OAuthToken:         "CLAUDE_CODE_OAUTH_TOKEN",
			OAuthTokenFD:       "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR",
			APIKeyHelperTTLMs:  "CLAUDE_CODE_API_KEY_HELPER_TTL_MS",
			UseBedrock:         "CLAUDE_CODE_USE_BEDROCK",
			UseVertex:          "CLAUDE_CODE_USE_VERTEX",
			BedrockBearerToken: "AWS_BEARER_TOKEN_BEDROCK",
		},
		OAuth: OAuthSettings{
			Scopes:       []string{"openid", "offline_access"},
			Redirect:     "auto",
			LoginTimeout: 5 * time.Minute,
		},
		AWS: AWSSettings{AuthRefreshTimeout: 3 * time.Minute},
		GCP: GCPSettings{
			Scopes:             []string{"https://www.googleapis.com/auth/cloud-platform"},
			AuthRefreshTimeout: 3 * time.Minute,
		},
	}
}
