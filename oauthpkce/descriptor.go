package oauthpkce

import (
	"context"
	"strings"
	"time"

	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source"
)

// RedirectModes are the values of setting oauth.redirect.
func RedirectModes() []string {
	return []string{string(RedirectAuto), string(RedirectLoopback), string(RedirectPaste)}
}

// Settings is settings section oauth, as config decodes it.
type Settings struct {
	Issuer           string            `mapstructure:"issuer"`
	AuthorizeURL     string            `mapstructure:"authorize_url"`
	TokenURL         string            `mapstructure:"token_url"`
	RevocationURL    string            `mapstructure:"revocation_url"`
	ClientID         string            `mapstructure:"client_id"`
	Scopes           []string          `mapstructure:"scopes"`
	Redirect         string            `mapstructure:"redirect"`
	PasteRedirectURI string            `mapstructure:"paste_redirect_uri"`
	CallbackPort     int               `mapstructure:"callback_port"`
	AuthorizeParams  map[string]string `mapstructure:"authorize_params"`
	// LoginTimeout is how long credchain login waits for the browser or a
	// pasted code.
	LoginTimeout time.Duration `mapstructure:"login_timeout"`
	// NoConsentPrompt stops prompt=consent with offline_access.
	NoConsentPrompt bool `mapstructure:"no_consent_prompt"`
	// DeviceAuthURL is the RFC 8628 device authorization endpoint.
	DeviceAuthURL string `mapstructure:"device_authorization_url"`
}

// Config is the source's Config for these settings, named name.
func (s Settings) Config(name string) Config {
	return Config{
		Name: name, Issuer: s.Issuer, AuthorizeURL: s.AuthorizeURL, TokenURL: s.TokenURL,
		RevocationURL: s.RevocationURL, ClientID: s.ClientID, Scopes: s.Scopes,
		Redirect: RedirectMode(s.Redirect), PasteRedirectURI: s.PasteRedirectURI,
		CallbackPort: s.CallbackPort, AuthParams: s.AuthorizeParams,
		NoConsentPrompt: s.NoConsentPrompt, DeviceAuthURL: s.DeviceAuthURL,
	}
}

func checkRedirectURI(v any) error {
	if s, _ := v.(string); strings.HasPrefix(s, "urn:") {
		return nil
	}
	return source.HTTPURL(v)
}

// Descriptor is source oauth: the login stored by credchain login,
// refreshed with its refresh token; settings section oauth.
func Descriptor() source.Descriptor {
	return source.Descriptor{
		Name:    Name,
		Order:   420,
		Section: "oauth",
		Settings: []source.Setting{
			{Key: "issuer", Default: "", Check: source.HTTPURL, Help: "OpenID Connect issuer (discovery); or set authorize_url and token_url"},
			{Key: "authorize_url", Default: "", Check: source.HTTPURL, Help: "authorization endpoint"},
			{Key: "token_url", Default: "", Check: source.HTTPURL, Help: "token endpoint"},
			{Key: "revocation_url", Default: "", Check: source.HTTPURL, Help: "revocation endpoint used by logout (optional)"},
			{Key: "client_id", Default: "", Help: "public client id (no secret)"},
			{Key: "scopes", Default: SplitScopes(DefaultScopes), Help: "scopes to request"},
			{Key: "redirect", Default: string(RedirectAuto), Check: source.OneOf(RedirectModes()...), Help: "how the code comes back"},
			{Key: "paste_redirect_uri", Default: "", Check: checkRedirectURI, Help: "redirect URI of the paste flow (a provider page showing the code, or urn:ietf:wg:oauth:2.0:oob)"},
			{Key: "callback_port", Default: 0, Check: source.Port, Help: "loopback callback port (0: ephemeral)"},
			{Key: "authorize_params", Default: map[string]string(nil), Help: "extra authorize-request parameters (env: k=v,k2=v2)"},
			{Key: "no_consent_prompt", Default: false, Help: "do not send prompt=consent with offline_access"},
			{Key: "device_authorization_url", Default: "", Check: source.HTTPURL, Help: "RFC 8628 device authorization endpoint (else from discovery)"},
			{Key: "login_timeout", Default: DefaultLoginTimeout, Check: source.Positive, Help: "how long login waits for the browser or a pasted code"},
		},
		New: func(_ context.Context, in source.Input) (resolver.Source, error) {
			var s Settings
			if err := in.Decode(&s); err != nil {
				return nil, err
			}
			src, err := New(s.Config(Name))
			if err != nil {
				return nil, err
			}
			return src, nil
		},
	}
}
