package oauthpkce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Name is the default source name, the key of the stored login.
const Name = "oauth"

// RedirectMode chooses how the authorization code comes back.
type RedirectMode string

// Redirect modes (setting oauth.redirect).
const (
	// RedirectAuto listens on a loopback port and also accepts a pasted
	// code on the terminal; the first to arrive wins. If the loopback port
	// cannot be opened it falls back to RedirectPaste when
	// Config.PasteRedirectURI is set.
	RedirectAuto RedirectMode = "auto"
	// RedirectLoopback only listens on 127.0.0.1 (RFC 8252 §7.3).
	RedirectLoopback RedirectMode = "loopback"
	// RedirectPaste sends the provider's own code page
	// (Config.PasteRedirectURI) as redirect_uri and reads the code the
	// person pastes.
	RedirectPaste RedirectMode = "paste"
)

// OOBRedirectURI is the out-of-band redirect URI some providers (Dex among
// them) answer with a page that shows the code.
const OOBRedirectURI = "urn:ietf:wg:oauth:2.0:oob"

// DefaultScopes are requested from an OpenID provider (Config.Issuer set)
// when Config.Scopes is empty; the config package's default for
// oauth.scopes is the same list. offline_access asks for a refresh token.
const DefaultScopes = "openid offline_access"

// scopeOffline is the OpenID Connect scope that asks for a refresh token.
const scopeOffline = "offline_access"

// DefaultLoginTimeout bounds how long Login waits for the person.
const DefaultLoginTimeout = 5 * time.Minute

// DefaultRequestTimeout bounds one call to the token or discovery endpoint.
const DefaultRequestTimeout = 30 * time.Second

// Config is the oauth settings. Either Issuer (OpenID Connect discovery) or
// AuthorizeURL and TokenURL are needed to log in. A refresh uses the token
// endpoint and client id kept in the stored login, so a login keeps
// refreshing after those settings change; but a Source built from an empty
// Config does not apply (Probe reports it not configured), so its stored
// login is neither read nor refreshed.
type Config struct {
	// Name is the source name (Name when empty).
	Name string
	// Issuer is the OpenID provider; endpoints come from
	// Issuer + "/.well-known/openid-configuration". Setting oauth.issuer.
	Issuer string
	// AuthorizeURL and TokenURL override discovery (oauth.authorize_url,
	// oauth.token_url).
	AuthorizeURL string
	TokenURL     string
	// RevocationURL is the RFC 7009 endpoint (oauth.revocation_url); from
	// discovery when empty. Without one, logout only drops the local record.
	RevocationURL string
	// ClientID is the public client's id (oauth.client_id); there is no
	// client secret.
	ClientID string
	// Scopes requested at login (oauth.scopes). Include "offline_access"
	// where the provider needs it to issue a refresh token. With an Issuer
	// and no scopes, DefaultScopes are requested.
	Scopes []string
	// Redirect is the redirect mode (RedirectAuto when empty).
	Redirect RedirectMode
	// PasteRedirectURI is the redirect_uri for the paste flow: a provider
	// page that shows the code, or OOBRedirectURI (oauth.paste_redirect_uri).
	PasteRedirectURI string
	// CallbackPort is the loopback port (0: an ephemeral one).
	CallbackPort int
	// AuthParams are extra authorize-request parameters
	// (oauth.authorize_params), e.g. connector_id or login_hint. They cannot
	// override the PKCE, state, nonce, client_id, redirect_uri or scope
	// parameters. A "prompt" set here replaces the automatic prompt=consent.
	AuthParams map[string]string
	// NoConsentPrompt turns off prompt=consent, which is otherwise sent
	// whenever offline_access is requested (OpenID Connect Core §11: a
	// provider may grant offline access only with it) unless discovery's
	// prompt_values_supported lists no "consent". Setting
	// oauth.no_consent_prompt.
	NoConsentPrompt bool
	// DeviceAuthURL is the RFC 8628 device authorization endpoint
	// (oauth.device_authorization_url); from discovery's
	// device_authorization_endpoint when empty.
	DeviceAuthURL string
	// HTTPClient is used for discovery, token and revocation calls
	// (http.DefaultClient's transport with a timeout when nil).
	HTTPClient *http.Client
	// RequestTimeout bounds one endpoint call (DefaultRequestTimeout when
	// zero).
	RequestTimeout time.Duration
}

// reservedParams are the authorize parameters credchain sets itself.
var reservedParams = []string{
	"response_type", "client_id", "redirect_uri", "scope", "state",
	"code_challenge", "code_challenge_method", "nonce", "request_uri",
}

// ErrInvalidSettings is matched (errors.Is) by the error New returns for bad
// settings. Its text is left out of the message: every problem already
// names its oauth.* key, and the config layer adds its own prefix.
var ErrInvalidSettings = errors.New("invalid oauth settings")

// settingsError is the list of bad settings; it matches ErrInvalidSettings.
type settingsError struct{ err error }

func (e *settingsError) Error() string        { return e.err.Error() }
func (e *settingsError) Unwrap() error        { return e.err }
func (e *settingsError) Is(target error) bool { return target == ErrInvalidSettings }

// SplitScopes splits a scopes setting written with spaces and/or commas.
func SplitScopes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

func (c *Config) validate() error {
	var errs []error
	if c.Name == "" {
		c.Name = Name
	}
	switch c.Redirect {
	case "":
		c.Redirect = RedirectAuto
	case RedirectAuto, RedirectLoopback, RedirectPaste:
	default:
		errs = append(errs, fmt.Errorf("oauth.redirect is %q; allowed: auto, loopback, paste", c.Redirect))
	}
	for _, u := range []struct{ key, val string }{
		{"oauth.issuer", c.Issuer}, {"oauth.authorize_url", c.AuthorizeURL},
		{"oauth.token_url", c.TokenURL}, {"oauth.revocation_url", c.RevocationURL},
		{"oauth.device_authorization_url", c.DeviceAuthURL},
	} {
		if u.val == "" {
			continue
		}
		if err := checkHTTPURL(u.val); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.key, err))
		}
	}
	if c.PasteRedirectURI != "" && c.PasteRedirectURI != OOBRedirectURI {
		if err := checkHTTPURL(c.PasteRedirectURI); err != nil {
			errs = append(errs, fmt.Errorf("oauth.paste_redirect_uri: %w (or use %s)", err, OOBRedirectURI))
		}
	}
	if c.CallbackPort < 0 || c.CallbackPort > 65535 {
		errs = append(errs, fmt.Errorf("oauth.callback_port is %d; use 1-65535, or 0 for an ephemeral port", c.CallbackPort))
	}
	for k := range c.AuthParams {
		if slices.Contains(reservedParams, k) {
			errs = append(errs, fmt.Errorf("oauth.authorize_params: %q is set by credchain and cannot be overridden", k))
		}
	}
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " ,\t\n\"\\") {
			errs = append(errs, fmt.Errorf("oauth.scopes: %q is not a valid scope", s))
		}
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if len(errs) > 0 {
		return &settingsError{errors.Join(errs...)}
	}
	return nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("%q uses plain http to a host that is not loopback; use https", s)
	}
	return nil
}

// endpoints are the provider's URLs in use.
type endpoints struct {
	Issuer     string
	Authorize  string
	Token      string
	Revocation string
	// Device is the RFC 8628 device authorization endpoint ("" when the
	// provider has none).
	Device string
	// PAR is the RFC 9126 pushed authorization request endpoint.
	PAR string
	// Doc is the discovery document, nil without an issuer.
	Doc *discoveryDoc
}

// discoveryDoc is the part of an OpenID provider configuration credchain
// uses.
type discoveryDoc struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	RevocationEndpoint    string   `json:"revocation_endpoint"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
	// DeviceEndpoint is RFC 8628's device_authorization_endpoint.
	DeviceEndpoint string `json:"device_authorization_endpoint"`
	// PAREndpoint is RFC 9126's pushed_authorization_request_endpoint.
	PAREndpoint string `json:"pushed_authorization_request_endpoint"`
	// PromptValues is prompt_values_supported (OpenID Connect Prompt
	// Create 1.0); nil when the provider does not publish it.
	PromptValues []string `json:"prompt_values_supported"`
	// IssParameter is RFC 9207's
	// authorization_response_iss_parameter_supported.
	IssParameter bool `json:"authorization_response_iss_parameter_supported"`
}

// ErrMissingSettings is matched by the error Login returns when the oauth
// settings do not say where to log in.
var ErrMissingSettings = errors.New("settings missing")

// resolveEndpoints returns the configured endpoints, discovering what is not
// set explicitly. The discovery result is kept for the Source's lifetime.
func (s *Source) resolveEndpoints(ctx context.Context) (endpoints, error) {
	c := &s.cfg
	ep := endpoints{Issuer: c.Issuer, Authorize: c.AuthorizeURL, Token: c.TokenURL, Revocation: c.RevocationURL, Device: c.DeviceAuthURL}
	if ep.Authorize != "" && ep.Token != "" && c.Issuer == "" {
		return ep, nil
	}
	if c.Issuer == "" {
		var missing []string
		if ep.Authorize == "" {
			missing = append(missing, "oauth.authorize_url")
		}
		if ep.Token == "" {
			missing = append(missing, "oauth.token_url")
		}
		return ep, fmt.Errorf("%w: set oauth.issuer (OpenID discovery), or both oauth.authorize_url and oauth.token_url; missing: %s", ErrMissingSettings, strings.Join(missing, ", "))
	}
	doc, err := s.discover(ctx)
	if err != nil {
		return ep, err
	}
	if ep.Authorize == "" {
		ep.Authorize = doc.AuthorizationEndpoint
	}
	if ep.Token == "" {
		ep.Token = doc.TokenEndpoint
	}
	if ep.Revocation == "" {
		ep.Revocation = doc.RevocationEndpoint
	}
	if ep.Device == "" {
		ep.Device = doc.DeviceEndpoint
	}
	ep.PAR = doc.PAREndpoint
	ep.Doc = doc
	return ep, nil
}

func (s *Source) discover(ctx context.Context) (*discoveryDoc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.disco != nil {
		return s.disco, nil
	}
	where := strings.TrimSuffix(s.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return nil, fmt.Errorf("discovery %s: %w", where, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("discovery %s (from oauth.issuer): %w", where, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("discovery %s: reading the answer: %w", where, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discovery %s answered HTTP %d; check oauth.issuer", where, resp.StatusCode)
	}
	var doc discoveryDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("discovery %s: the answer is not an OpenID provider configuration: %w", where, err)
	}
	if strings.TrimSuffix(doc.Issuer, "/") != strings.TrimSuffix(s.cfg.Issuer, "/") {
		return nil, fmt.Errorf("discovery %s names issuer %q, not the configured oauth.issuer %q", where, doc.Issuer, s.cfg.Issuer)
	}
	for _, u := range []struct{ key, val string }{
		{"authorization_endpoint", doc.AuthorizationEndpoint}, {"token_endpoint", doc.TokenEndpoint},
	} {
		if err := checkHTTPURL(u.val); err != nil {
			return nil, fmt.Errorf("discovery %s: %s: %w", where, u.key, err)
		}
	}
	for _, u := range []struct{ key, val string }{
		{"revocation_endpoint", doc.RevocationEndpoint}, {"device_authorization_endpoint", doc.DeviceEndpoint},
		{"pushed_authorization_request_endpoint", doc.PAREndpoint},
	} {
		if u.val == "" {
			continue
		}
		if err := checkHTTPURL(u.val); err != nil {
			return nil, fmt.Errorf("discovery %s: %s: %w", where, u.key, err)
		}
	}
	if len(doc.CodeChallengeMethods) > 0 && !slices.Contains(doc.CodeChallengeMethods, "S256") {
		return nil, fmt.Errorf("provider %s does not support PKCE with S256 (code_challenge_methods_supported: %v); credchain never uses plain", s.cfg.Issuer, doc.CodeChallengeMethods)
	}
	s.disco = &doc
	return &doc, nil
}
