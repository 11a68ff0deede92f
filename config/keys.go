package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/credchain/credchain/cache"
)

// valueType is the type of a setting's value.
type valueType int

const (
	typeString valueType = iota
	typeDuration
	typeList
	typeBool
	typeInt
	typeMap
)

func (t valueType) String() string {
	switch t {
	case typeDuration:
		return "duration"
	case typeList:
		return "list"
	case typeBool:
		return "boolean"
	case typeInt:
		return "integer"
	case typeMap:
		return "map"
	}
	return "string"
}

// keyDef is one setting: its dotted name, type, Claude Code alias, help, the
// field it fills and an optional check of the decoded value.
type keyDef struct {
	name  string
	typ   valueType
	alias string
	help  string
	field func(*Settings) any // a pointer to the field
	check func(v any) (msg string, allowed []string)
}

// Key describes one setting, for documentation and `credchain config`-style
// listings.
type Key struct {
	Name    string // dotted key, e.g. "store.backend"
	Env     string // its environment variable, e.g. CREDCHAIN_STORE_BACKEND
	Alias   string // the Claude Code setting name, if any
	Type    string // string, duration, list, boolean, integer, map
	Default string // the default, formatted
	Help    string
}

// EnvPrefix starts the environment variable of every setting.
const EnvPrefix = "CREDCHAIN_"

// envName is CREDCHAIN_<SECTION>_<KEY>.
func envName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys lists every setting in documentation order.
func Keys() []Key {
	def := defaultSettings()
	var out []Key
	for _, k := range keyDefs() {
		out = append(out, Key{
			Name: k.name, Env: envName(k.name), Alias: k.alias, Type: k.typ.String(),
			Default: formatValue(deref(k.field(&def))), Help: k.help,
		})
	}
	return out
}

// ClaudeCodeIgnoredKeys are the top-level keys of a Claude Code
// settings.json that credchain ignores (they configure Claude Code itself),
// so such a file can be passed with --config. Any other unknown key is an
// error.
func ClaudeCodeIgnoredKeys() []string {
	return []string{
		"$schema", "env", "permissions", "model", "hooks", "disableAllHooks",
		"statusLine", "outputStyle", "includeCoAuthoredBy", "cleanupPeriodDays",
		"forceLoginMethod", "forceLoginOrgUUID", "enableAllProjectMcpServers",
		"enabledMcpjsonServers", "disabledMcpjsonServers", "otelHeadersHelper",
		"proxyAuthHelper", "spinnerTipsEnabled", "alwaysThinkingEnabled", "theme",
		"companyAnnouncements", "sandbox", "enabledPlugins", "extraKnownMarketplaces",
		"feedbackSurveyState", "verbose",
	}
}

var varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func checkVariable(v any) (string, []string) {
	if !varNameRE.MatchString(v.(string)) {
		return fmt.Sprintf("%s is not an environment variable name (letters, digits and _, not starting with a digit)", quoteValue(v.(string))), nil
	}
	return "", nil
}

func checkURL(v any) (string, []string) {
	s := v.(string)
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%q is not an absolute http(s) URL", s), nil
	}
	return "", nil
}

func checkRedirectURI(v any) (string, []string) {
	if s := v.(string); strings.HasPrefix(s, "urn:") {
		return "", nil
	}
	return checkURL(v)
}

func checkOneOf(allowed ...string) func(v any) (string, []string) {
	return func(v any) (string, []string) {
		if !slices.Contains(allowed, v.(string)) {
			return fmt.Sprintf("%s is not allowed", quoteValue(v.(string))), allowed
		}
		return "", nil
	}
}

func checkBackend(v any) (string, []string) {
	allowed := cache.Backends()
	if !slices.Contains(allowed, v.(string)) {
		return fmt.Sprintf("unknown store backend %s", quoteValue(v.(string))), allowed
	}
	return "", nil
}

func checkPositive(v any) (string, []string) {
	if v.(time.Duration) <= 0 {
		return "must be greater than zero", nil
	}
	return "", nil
}

func checkPort(v any) (string, []string) {
	if p := v.(int); p < 0 || p > 65535 {
		return fmt.Sprintf("port %d is out of range (0 for an ephemeral port, else 1-65535)", p), nil
	}
	return "", nil
}

// keyDefs is the schema. To add a setting, add a line here and a field to
// Settings; docs/configuration.md lists every key (a test checks it).
func keyDefs() []keyDef {
	return []keyDef{
		{name: "chain", typ: typeList, help: "source names in priority order; the first configured source wins",
			field: func(s *Settings) any { return &s.chain }},
		{name: "refresh.window", typ: typeDuration, help: "how long before expiry a credential is refreshed", check: checkPositive,
			field: func(s *Settings) any { return &s.Refresh.Window }},

		{name: "store.backend", typ: typeString, help: "credential store backend", check: checkBackend,
			field: func(s *Settings) any { return &s.Store.Backend }},
		{name: "store.dir", typ: typeString, help: "directory of the lock files and the file/plaintext records (empty: $XDG_CONFIG_HOME/credchain; ~/ is the home directory)",
			field: func(s *Settings) any { return &s.Store.Dir }},
		{name: "store.service", typ: typeString, help: "keychain service name",
			field: func(s *Settings) any { return &s.Store.Service }},
		{name: "store.timeout", typ: typeDuration, help: "time box of every store call (a locked keychain fails after it instead of hanging)", check: checkPositive,
			field: func(s *Settings) any { return &s.Store.Timeout }},
		{name: "store.keyctl_scope", typ: typeString, help: "kernel keyring of the keyctl backend", check: checkOneOf("user", "usersession", "session", "process", "thread"),
			field: func(s *Settings) any { return &s.Store.KeyCtlScope }},

		{name: "api_key_helper", typ: typeString, alias: "apiKeyHelper", help: "shell command (run by /bin/sh) whose stdout is the API key",
			field: func(s *Settings) any { return &s.APIKeyHelper }},
		{name: "api_key_helper_ttl", typ: typeDuration, help: "how long a helper's key is used before the helper runs again (default: $CLAUDE_CODE_API_KEY_HELPER_TTL_MS, else 5m)", check: checkPositive,
			field: func(s *Settings) any { return &s.APIKeyHelperTTL }},
		{name: "api_key_helper_timeout", typ: typeDuration, help: "time limit of one helper run", check: checkPositive,
			field: func(s *Settings) any { return &s.APIKeyHelperTimeout }},

		{name: "variables.auth_token", typ: typeString, help: "variable of source auth-token (bearer)", check: checkVariable,
			field: func(s *Settings) any { return &s.Variables.AuthToken }},
		{name: "variables.api_key", typ: typeString, help: "variable of source api-key", check: checkVariable,
			field: func(s *Settings) any { return &s.Variables.APIKey }},
		{name: "variables.api_key_fd", typ: typeString, help: "variable holding the descriptor number of source api-key-fd", check: checkVariable,
			field: func(s *Settings) any { return &s.Variables.APIKeyFD }},
		{name: "variables.oauth_token", typ: typeString, help: "variable of source oauth-token (bearer)", check: checkVariable,
			field: func(s *Settings) any { return &s.Variables.OAuthToken }},
		{name: "variables.oauth_token_fd", typ: typeString, help: "variable holding the descriptor number of source oauth-token-fd", check: checkVariable,
			field: func(s *Settings) any { return &s.Variables.OAuthTokenFD }},
		{name: "variables.api_key_helper_ttl_ms", typ: typeString, help: "variable giving the default api_key_helper_ttl in milliseconds", check: checkVariable,
			field: func(s *Settings) any { return &s.Variables.APIKeyHelperTTLMs }},
		{name: "variables.use_bedrock", typ: typeString, help: "variable that, truthy, turns on source bedrock", check: checkVariable,
			field: func(s *Settings) any { return &s.Variables.UseBedrock }},
		{name: "variables.use_vertex", typ: typeString, help: "variable that, truthy, turns on source vertex", check: checkVariable,
			field: func(s *Settings) any { return &s.Variables.UseVertex }},
		{name: "variables.bedrock_bearer_token", typ: typeString, help: "variable whose value is sent to Bedrock as a bearer token instead of SigV4", check: checkVariable,
			field: func(s *Settings) any { return &s.Variables.BedrockBearerToken }},

		{name: "oauth.issuer", typ: typeString, help: "OpenID Connect issuer (discovery); or set authorize_url and token_url", check: checkURL,
			field: func(s *Settings) any { return &s.OAuth.Issuer }},
		{name: "oauth.authorize_url", typ: typeString, help: "authorization endpoint", check: checkURL,
			field: func(s *Settings) any { return &s.OAuth.AuthorizeURL }},
		{name: "oauth.token_url", typ: typeString, help: "token endpoint", check: checkURL,
			field: func(s *Settings) any { return &s.OAuth.TokenURL }},
		{name: "oauth.revocation_url", typ: typeString, help: "revocation endpoint used by logout (optional)", check: checkURL,
			field: func(s *Settings) any { return &s.OAuth.RevocationURL }},
		{name: "oauth.client_id", typ: typeString, help: "public client id (no secret)",
			field: func(s *Settings) any { return &s.OAuth.ClientID }},
		{name: "oauth.scopes", typ: typeList, help: "scopes to request",
			field: func(s *Settings) any { return &s.OAuth.Scopes }},
		{name: "oauth.redirect", typ: typeString, help: "how the code comes back", check: checkOneOf("auto", "loopback", "paste"),
			field: func(s *Settings) any { return &s.OAuth.Redirect }},
		{name: "oauth.paste_redirect_uri", typ: typeString, help: "redirect URI of the paste flow (a provider page showing the code, or urn:ietf:wg:oauth:2.0:oob)", check: checkRedirectURI,
			field: func(s *Settings) any { return &s.OAuth.PasteRedirectURI }},
		{name: "oauth.callback_port", typ: typeInt, help: "loopback callback port (0: ephemeral)", check: checkPort,
			field: func(s *Settings) any { return &s.OAuth.CallbackPort }},
		{name: "oauth.authorize_params", typ: typeMap, help: "extra authorize-request parameters (env: k=v,k2=v2)",
			field: func(s *Settings) any { return &s.OAuth.AuthorizeParams }},
		{name: "oauth.no_consent_prompt", typ: typeBool, help: "do not send prompt=consent with offline_access",
			field: func(s *Settings) any { return &s.OAuth.NoConsentPrompt }},
		{name: "oauth.device_authorization_url", typ: typeString, help: "RFC 8628 device authorization endpoint (else from discovery)", check: checkURL,
			field: func(s *Settings) any { return &s.OAuth.DeviceAuthURL }},
		{name: "oauth.login_timeout", typ: typeDuration, help: "how long login waits for the browser or a pasted code", check: checkPositive,
			field: func(s *Settings) any { return &s.OAuth.LoginTimeout }},

		{name: "aws.enabled", typ: typeBool, help: "use source bedrock even without $CLAUDE_CODE_USE_BEDROCK",
			field: func(s *Settings) any { return &s.AWS.Enabled }},
		{name: "aws.profile", typ: typeString, help: "shared-config profile (else $AWS_PROFILE)",
			field: func(s *Settings) any { return &s.AWS.Profile }},
		{name: "aws.region", typ: typeString, help: "AWS region (else the SDK's)",
			field: func(s *Settings) any { return &s.AWS.Region }},
		{name: "aws.role_arn", typ: typeString, help: "role assumed through STS after the default credential chain",
			field: func(s *Settings) any { return &s.AWS.RoleARN }},
		{name: "aws.role_session_name", typ: typeString, help: "session name for role_arn",
			field: func(s *Settings) any { return &s.AWS.RoleSessionName }},
		{name: "aws.auth_refresh", typ: typeString, alias: "awsAuthRefresh", help: "command run when the AWS credentials are invalid (e.g. aws sso login)",
			field: func(s *Settings) any { return &s.AWS.AuthRefresh }},
		{name: "aws.auth_refresh_timeout", typ: typeDuration, help: "time limit of auth_refresh", check: checkPositive,
			field: func(s *Settings) any { return &s.AWS.AuthRefreshTimeout }},
		{name: "aws.credential_export", typ: typeString, alias: "awsCredentialExport", help: "command printing STS-shaped JSON credentials",
			field: func(s *Settings) any { return &s.AWS.CredentialExport }},

		{name: "gcp.enabled", typ: typeBool, help: "use source vertex even without $CLAUDE_CODE_USE_VERTEX",
			field: func(s *Settings) any { return &s.GCP.Enabled }},
		{name: "gcp.project", typ: typeString, help: "Google Cloud project (else from the credentials)",
			field: func(s *Settings) any { return &s.GCP.Project }},
		{name: "gcp.region", typ: typeString, help: "Vertex AI region",
			field: func(s *Settings) any { return &s.GCP.Region }},
		{name: "gcp.credentials_file", typ: typeString, help: "explicit credentials file (else Application Default Credentials)",
			field: func(s *Settings) any { return &s.GCP.CredentialsFile }},
		{name: "gcp.token_url", typ: typeString, help: "token endpoint override (authorized-user credentials)", check: checkURL,
			field: func(s *Settings) any { return &s.GCP.TokenURL }},
		{name: "gcp.scopes", typ: typeList, help: "OAuth scopes of the Google token",
			field: func(s *Settings) any { return &s.GCP.Scopes }},
		{name: "gcp.auth_refresh", typ: typeString, alias: "gcpAuthRefresh", help: "command run when getting a Google token fails (e.g. gcloud auth application-default login)",
			field: func(s *Settings) any { return &s.GCP.AuthRefresh }},
		{name: "gcp.auth_refresh_timeout", typ: typeDuration, help: "time limit of auth_refresh", check: checkPositive,
			field: func(s *Settings) any { return &s.GCP.AuthRefreshTimeout }},

		{name: "git.hosts", typ: typeList, help: "hosts credchain git-credential answers for",
			field: func(s *Settings) any { return &s.Git.Hosts }},
		{name: "docker.servers", typ: typeList, help: "registries credchain docker-credential answers for",
			field: func(s *Settings) any { return &s.Docker.Servers }},
	}
}

// aliases maps a lower-cased Claude Code setting name to its key.
func aliases() map[string]string {
	m := map[string]string{}
	for _, k := range keyDefs() {
		if k.alias != "" {
			m[strings.ToLower(k.alias)] = k.name
		}
	}
	return m
}

// deref returns the value behind a field pointer.
func deref(p any) any {
	switch p := p.(type) {
	case *string:
		return *p
	case *time.Duration:
		return *p
	case *[]string:
		return *p
	case *bool:
		return *p
	case *int:
		return *p
	case *map[string]string:
		return *p
	}
	panic(fmt.Sprintf("config: unsupported field type %T", p))
}

// assign stores a decoded value through a field pointer.
func assign(p any, v any) {
	switch p := p.(type) {
	case *string:
		*p = v.(string)
	case *time.Duration:
		*p = v.(time.Duration)
	case *[]string:
		*p = v.([]string)
	case *bool:
		*p = v.(bool)
	case *int:
		*p = v.(int)
	case *map[string]string:
		*p = v.(map[string]string)
	default:
		panic(fmt.Sprintf("config: unsupported field type %T", p))
	}
}

// quoteValue shows a bad value in an error message. A long value is shown
// only by its length and last 4 characters: it may be a secret written into
// the wrong setting, and an error must never carry a secret.
func quoteValue(s string) string {
	if len(s) < 16 {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("a %d-character value ending in %q", len(s), s[len(s)-4:])
}

// formatValue renders a value the way it would be written in a file.
func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case time.Duration:
		return formatDuration(v)
	case []string:
		return strings.Join(v, ", ")
	case bool:
		return fmt.Sprint(v)
	case int:
		return fmt.Sprint(v)
	case map[string]string:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+"="+v[k])
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// formatDuration prints 5m rather than 5m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
