// Package federation is Anthropic's workload identity federation as a
// credential source ("federation"): a platform's own OIDC identity token (a
// Kubernetes projected service-account token, a CI job's token) is
// exchanged at POST {base}/v1/oauth/token (RFC 7523 jwt-bearer, JSON body)
// for a short-lived bearer token. There is no refresh token: the source
// exchanges again, re-reading the identity token file each time, so a token
// the platform rotates is picked up.
//
// Configuration follows Claude Code: ANTHROPIC_PROFILE names a profile
// under the config directory ($ANTHROPIC_CONFIG_DIR,
// $XDG_CONFIG_HOME/anthropic or ~/.config/anthropic); else
// ANTHROPIC_FEDERATION_RULE_ID with ANTHROPIC_ORGANIZATION_ID (plus
// ANTHROPIC_SERVICE_ACCOUNT_ID, ANTHROPIC_WORKSPACE_ID and the identity
// token from ANTHROPIC_IDENTITY_TOKEN_FILE or ANTHROPIC_IDENTITY_TOKEN);
// else the active profile (active_config, else "default") when it is an
// oidc_federation profile. Where Claude Code quietly ignores a bad setting
// (a named profile that does not exist, a rule without an organization),
// this source says so.
//
// Minted tokens live in memory only, as in the SDKs: the resolver's
// scheduler exchanges again before expiry, keeps the old token while a
// background exchange fails, and exchanges once more when the API answers
// 401.
package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/credchain/credchain/resolver"
)

// Name is the source's name: its chain entry and what status shows.
const Name = "federation"

// Environment variables, as Claude Code and the SDKs name them.
const (
	EnvRuleID            = "ANTHROPIC_FEDERATION_RULE_ID"
	EnvOrganizationID    = "ANTHROPIC_ORGANIZATION_ID"
	EnvServiceAccountID  = "ANTHROPIC_SERVICE_ACCOUNT_ID"
	EnvWorkspaceID       = "ANTHROPIC_WORKSPACE_ID"
	EnvIdentityTokenFile = "ANTHROPIC_IDENTITY_TOKEN_FILE"
	EnvIdentityToken     = "ANTHROPIC_IDENTITY_TOKEN"
	EnvProfile           = "ANTHROPIC_PROFILE"
	EnvConfigDir         = "ANTHROPIC_CONFIG_DIR"
	EnvBaseURL           = "ANTHROPIC_BASE_URL"
	EnvScope             = "ANTHROPIC_SCOPE"
)

// DefaultBaseURL is where tokens are exchanged (and then used).
const DefaultBaseURL = "https://api.anthropic.com"

// Beta values: the exchange needs both (the first opens /v1/oauth/token,
// the second routes it to the jwt-bearer handler); API requests with the
// minted token need the first.
const (
	BetaOAuth      = "oauth-2025-04-20"
	BetaFederation = "oidc-federation-2026-04-01"
)

// GrantType is RFC 7523's jwt-bearer grant.
const GrantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// Limits, as the SDKs and Claude Code apply them.
const (
	maxAssertion    = 16 << 10
	maxResponse     = 1 << 20
	exchangeTimeout = 10 * time.Second
)

// ErrTokenRefused is matched (with resolver.ErrLoginRequired) by the error
// returned when the exchange answers invalid_grant: the identity token was
// refused (wrong issuer, audience or subject for the rule, expired, or the
// rule is gone). The server does not say which.
var ErrTokenRefused = errors.New("the identity token was refused")

// Options configures the source. The zero value follows the environment, as
// Claude Code does; a non-empty field wins over its variable.
type Options struct {
	// BaseURL is where the exchange goes (federation.base_url); empty means
	// ANTHROPIC_BASE_URL, the profile's base_url, else DefaultBaseURL.
	BaseURL string `mapstructure:"base_url"`
	// Profile names the profile to use (federation.profile); empty means
	// ANTHROPIC_PROFILE.
	Profile string `mapstructure:"profile"`
	// ConfigDir is the profiles' directory (federation.config_dir); empty
	// means ANTHROPIC_CONFIG_DIR, $XDG_CONFIG_HOME/anthropic or
	// ~/.config/anthropic.
	ConfigDir string `mapstructure:"config_dir"`
	// IdentityToken, when set, supplies the identity token for every
	// exchange (an embedder fetching it from a cloud metadata server); it
	// replaces the file and variable.
	IdentityToken func(ctx context.Context) (string, error)
	// HTTPClient makes the exchange (http.DefaultClient when nil).
	HTTPClient *http.Client
	// Now is the clock for expiries (time.Now when nil).
	Now func() time.Time
	// Getenv reads the environment (os.Getenv when nil).
	Getenv func(string) string
	// UserAgent is sent on the exchange.
	UserAgent string
}

// Source is the "federation" credential source. It is safe for concurrent
// use. It does not implement resolver.Persistent: minted tokens live in
// memory only (each process exchanges its own identity token), so no
// stored record could be served to another rule, organization, service
// account, workspace, base URL, identity token file or profile, and it
// needs no resolver.Identifier. Should it ever store its tokens, its
// Identity must name all of those.
type Source struct {
	opts Options
}

// New returns the source. It does no I/O.
func New(opts Options) *Source {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "credchain (oidc-federation)"
	}
	return &Source{opts: opts}
}

// Name implements resolver.Source.
func (s *Source) Name() string { return Name }

func (s *Source) env(name string) string { return strings.TrimSpace(s.opts.Getenv(name)) }

// Probe implements resolver.Prober. It reads the environment and, only for
// the implicit active profile, that profile's small JSON file.
func (s *Source) Probe() error {
	if s.explicitProfile() != "" || s.env(EnvRuleID) != "" {
		return nil
	}
	why := fmt.Sprintf("%s and %s are not set", EnvRuleID, EnvOrganizationID)
	if s.env(EnvOrganizationID) != "" {
		why = fmt.Sprintf("%s is set but %s is not", EnvOrganizationID, EnvRuleID)
	}
	dir, err := s.configDir()
	if err != nil {
		return resolver.NotConfigured("%s", why)
	}
	name := activeProfile(dir)
	p, err := loadProfile(dir, name)
	if err != nil || p.Authentication.Type != typeFederation {
		return resolver.NotConfigured("%s, and there is no federation profile %q in %s", why, name, dir)
	}
	return nil
}

func (s *Source) explicitProfile() string {
	if s.opts.Profile != "" {
		return s.opts.Profile
	}
	return s.env(EnvProfile)
}

// Describe implements resolver.Describer, in Claude Code's status shape.
func (s *Source) Describe() map[string]string {
	if s.Probe() != nil {
		return nil // the reason it does not apply says it all
	}
	c, err := s.config()
	if err != nil {
		return nil // Fetch reports it
	}
	m := map[string]string{"mode": c.mode, "organization": tail(c.org), "rule": tail(c.rule), "base_url": c.baseURL}
	if c.workspace != "" {
		m["workspace"] = c.workspace
	}
	if c.serviceAccount != "" {
		m["service_account"] = c.serviceAccount
	}
	if c.tokenFile != "" {
		m["identity_token_file"] = c.tokenFile
	}
	return m
}

func tail(id string) string {
	if len(id) <= 6 {
		return id
	}
	return "…" + id[len(id)-6:]
}

// exchangeConfig is one resolved configuration: from a profile or the
// environment.
type exchangeConfig struct {
	mode                      string // "env" or "profile <name>"
	rule, org                 string
	serviceAccount, workspace string
	tokenFile, tokenFileFrom  string // the path and what named it
	literal                   bool   // ANTHROPIC_IDENTITY_TOKEN
	baseURL, baseFrom, scope  string
}

// config resolves the configuration in Claude Code's order: explicit
// profile, the environment, the active profile.
func (s *Source) config() (*exchangeConfig, error) {
	if name := s.explicitProfile(); name != "" {
		return s.fromProfile(name, true)
	}
	rule, org := s.env(EnvRuleID), s.env(EnvOrganizationID)
	switch {
	case rule != "" && org == "":
		return nil, fmt.Errorf("%s is set but %s is not: a federation rule needs the organization's UUID (Console, Settings, Organization)", EnvRuleID, EnvOrganizationID)
	case rule != "":
		c := &exchangeConfig{mode: "env", rule: rule, org: org}
		s.fillFromEnv(c)
		return c, s.finish(c)
	}
	dir, err := s.configDir()
	if err != nil {
		return nil, err
	}
	return s.fromProfile(activeProfile(dir), false)
}

func (s *Source) fillFromEnv(c *exchangeConfig) {
	set := func(p *string, name string) {
		if *p == "" {
			*p = s.env(name)
		}
	}
	set(&c.rule, EnvRuleID)
	set(&c.org, EnvOrganizationID)
	set(&c.serviceAccount, EnvServiceAccountID)
	set(&c.workspace, EnvWorkspaceID)
	set(&c.scope, EnvScope)
	if c.tokenFile == "" && !c.literal {
		if f := s.env(EnvIdentityTokenFile); f != "" {
			c.tokenFile, c.tokenFileFrom = f, EnvIdentityTokenFile
		} else if s.opts.Getenv(EnvIdentityToken) != "" {
			c.literal = true
		}
	}
}

// finish picks the base URL and checks what every exchange needs.
func (s *Source) finish(c *exchangeConfig) error {
	switch {
	case s.opts.BaseURL != "":
		c.baseURL, c.baseFrom = s.opts.BaseURL, "federation.base_url"
	case s.env(EnvBaseURL) != "":
		c.baseURL, c.baseFrom = s.env(EnvBaseURL), EnvBaseURL
	case c.baseURL != "":
	default:
		c.baseURL, c.baseFrom = DefaultBaseURL, "the default"
	}
	c.baseURL = strings.TrimRight(c.baseURL, "/")
	if err := checkEndpoint(c.baseURL); err != nil {
		return fmt.Errorf("%s %q: %w", c.baseFrom, c.baseURL, err)
	}
	if c.rule == "" {
		return fmt.Errorf("%s: no federation rule id: set authentication.federation_rule_id or %s", c.mode, EnvRuleID)
	}
	if c.org == "" {
		return fmt.Errorf("%s: no organization id: set organization_id or %s", c.mode, EnvOrganizationID)
	}
	if s.opts.IdentityToken == nil && c.tokenFile == "" && !c.literal {
		return fmt.Errorf("no identity token: set %s to the file the platform writes its OIDC token to (re-read on every exchange), or %s to the token itself", EnvIdentityTokenFile, EnvIdentityToken)
	}
	return nil
}

// checkEndpoint allows https, and http only to loopback (a local stand-in).
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("is not an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if host == "localhost" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
		return errors.New("uses http to a host that is not loopback; the token exchange needs https")
	}
	return fmt.Errorf("has scheme %q; the token exchange needs https", u.Scheme)
}

// Fetch implements resolver.Source: one exchange. prev is not needed: there
// is no refresh token, the identity token is the refresh material.
func (s *Source) Fetch(ctx context.Context, _ *resolver.Credential) (*resolver.Credential, error) {
	c, err := s.config()
	if err != nil {
		return nil, err
	}
	assertion, err := s.identityToken(ctx, c)
	if err != nil {
		return nil, err
	}
	return s.exchange(ctx, c, assertion)
}

// identityToken reads the identity token afresh.
func (s *Source) identityToken(ctx context.Context, c *exchangeConfig) (string, error) {
	var tok, what string
	switch {
	case s.opts.IdentityToken != nil:
		what = "Options.IdentityToken"
		t, err := s.opts.IdentityToken(ctx)
		if err != nil {
			return "", fmt.Errorf("getting the identity token: %w", err)
		}
		tok = t
	case c.tokenFile != "":
		what = c.tokenFileFrom + " " + c.tokenFile
		data, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return "", fmt.Errorf("reading the identity token (%s): %w", what, unwrapPath(err))
		}
		tok = string(data)
	default:
		what = EnvIdentityToken
		tok = s.opts.Getenv(EnvIdentityToken)
	}
	tok = strings.TrimSpace(tok)
	switch {
	case tok == "":
		return "", fmt.Errorf("the identity token (%s) is empty", what)
	case len(tok) > maxAssertion:
		return "", fmt.Errorf("the identity token (%s) is %d bytes; the exchange accepts at most %d", what, len(tok), maxAssertion)
	case strings.Count(tok, ".") != 2:
		return "", fmt.Errorf("the identity token (%s) is not a JWT (header.payload.signature)", what)
	}
	return tok, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type exchangeRequest struct {
	GrantType        string `json:"grant_type"`
	Assertion        string `json:"assertion"`
	FederationRuleID string `json:"federation_rule_id"`
	OrganizationID   string `json:"organization_id"`
	ServiceAccountID string `json:"service_account_id,omitempty"`
	WorkspaceID      string `json:"workspace_id,omitempty"`
}

type exchangeResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   *int64 `json:"expires_in"`
	Scope       string `json:"scope"`
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func (s *Source) exchange(ctx context.Context, c *exchangeConfig, assertion string) (*resolver.Credential, error) {
	body, err := json.Marshal(exchangeRequest{
		GrantType: GrantType, Assertion: assertion, FederationRuleID: c.rule, OrganizationID: c.org,
		ServiceAccountID: c.serviceAccount, WorkspaceID: c.workspace,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, exchangeTimeout)
	defer cancel()
	endpoint := c.baseURL + "/v1/oauth/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("anthropic-beta", BetaOAuth+","+BetaFederation)
	req.Header.Set("User-Agent", s.opts.UserAgent)
	start := s.opts.Now()
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("token exchange at %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("token exchange at %s: reading the answer: %w", endpoint, err)
	}
	if len(data) > maxResponse {
		return nil, fmt.Errorf("token exchange at %s: the answer is larger than %d bytes", endpoint, maxResponse)
	}
	if resp.StatusCode/100 != 2 {
		return nil, exchangeError(c, endpoint, resp, data)
	}
	var out exchangeResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("token exchange at %s: the answer (HTTP %d, %d bytes) is not JSON", endpoint, resp.StatusCode, len(data))
	}
	if out.AccessToken == "" {
		return nil, fmt.Errorf("token exchange at %s: the answer has no access_token", endpoint)
	}
	if out.TokenType != "" && !strings.EqualFold(out.TokenType, "bearer") {
		return nil, fmt.Errorf("token exchange at %s: token_type %q, want Bearer", endpoint, out.TokenType)
	}
	meta := map[string]string{"mode": c.mode, "organization": tail(c.org), "rule": tail(c.rule)}
	if c.workspace != "" {
		meta["workspace"] = c.workspace
	}
	if out.Scope != "" {
		meta["scope"] = out.Scope
	}
	cred := &resolver.Credential{
		Kind: resolver.KindBearer, Token: resolver.NewSecret(out.AccessToken), Source: Name, Meta: meta,
		IssuedAt: start,
		// The minted token is an OAuth token: the API wants the OAuth beta
		// with it. The workspace is in the token, not in a header.
		Headers: map[string]string{"anthropic-beta": BetaOAuth},
	}
	if out.ExpiresIn != nil {
		cred.Expiry = start.Add(time.Duration(*out.ExpiresIn) * time.Second)
	}
	return cred, nil
}

// exchangeError describes a refused exchange with the server's error code,
// description and request id, never the body's other content.
func exchangeError(c *exchangeConfig, endpoint string, resp *http.Response, data []byte) error {
	var oe oauthError
	_ = json.Unmarshal(data, &oe)
	what := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if oe.Error != "" {
		what += " " + oe.Error
		if oe.Description != "" {
			what += ": " + truncate(oe.Description, 300)
		}
	}
	if id := resp.Header.Get("Request-Id"); id != "" {
		what += " (request-id " + id + ")"
	}
	switch {
	case oe.Error == "invalid_grant":
		return fmt.Errorf("%w: %w: token exchange at %s: %s; check that the token's issuer, subject and audience match federation rule %s and that it has not expired (the Console's authentication history of the rule says why)", resolver.ErrLoginRequired, ErrTokenRefused, endpoint, what, c.rule)
	case resp.StatusCode == http.StatusUnauthorized:
		hint := "check the federation rule"
		if c.workspace == "" {
			hint += "; if the rule spans several workspaces, set " + EnvWorkspaceID
		}
		return fmt.Errorf("token exchange at %s: %s; %s", endpoint, what, hint)
	}
	return fmt.Errorf("token exchange at %s: %s", endpoint, what)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Profiles.

const (
	typeFederation = "oidc_federation"
	typeUserOAuth  = "user_oauth"
)

type profileFile struct {
	OrganizationID string `json:"organization_id"`
	WorkspaceID    string `json:"workspace_id"`
	BaseURL        string `json:"base_url"`
	Authentication struct {
		Type             string `json:"type"`
		FederationRuleID string `json:"federation_rule_id"`
		ServiceAccountID string `json:"service_account_id"`
		Scope            string `json:"scope"`
		IdentityToken    *struct {
			Source string `json:"source"`
			Path   string `json:"path"`
		} `json:"identity_token"`
	} `json:"authentication"`
}

var profileName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// configDir is where profiles live.
func (s *Source) configDir() (string, error) {
	if s.opts.ConfigDir != "" {
		return s.opts.ConfigDir, nil
	}
	if d := s.env(EnvConfigDir); d != "" {
		return d, nil
	}
	if x := s.env("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "anthropic"), nil
	}
	if h := s.env("HOME"); h != "" {
		return filepath.Join(h, ".config", "anthropic"), nil
	}
	return "", fmt.Errorf("no profile directory: set %s", EnvConfigDir)
}

// activeProfile is active_config's first line, else "default".
func activeProfile(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "active_config"))
	if err == nil {
		if name, _, _ := strings.Cut(strings.TrimSpace(string(data)), "\n"); strings.TrimSpace(name) != "" {
			return strings.TrimSpace(name)
		}
	}
	return "default"
}

func loadProfile(dir, name string) (*profileFile, error) {
	if !profileName.MatchString(name) || name == "." || name == ".." {
		return nil, fmt.Errorf("profile name %q is not valid (letters, digits, '_', '.', '-')", name)
	}
	path := filepath.Join(dir, "configs", name+".json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p profileFile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("profile %s is not valid JSON: %w", path, err)
	}
	return &p, nil
}

func (s *Source) fromProfile(name string, explicit bool) (*exchangeConfig, error) {
	dir, err := s.configDir()
	if err != nil {
		return nil, err
	}
	from := "the active profile"
	if explicit {
		from = EnvProfile
		if s.opts.Profile != "" {
			from = "federation.profile"
		}
	}
	p, err := loadProfile(dir, name)
	path := filepath.Join(dir, "configs", name+".json")
	switch {
	case errors.Is(err, os.ErrNotExist) && explicit:
		return nil, fmt.Errorf("%s=%s: there is no profile %s (Claude Code ignores a missing profile silently; credchain does not); create it with `ant profile` or unset %s", from, name, path, from)
	case errors.Is(err, os.ErrNotExist):
		return nil, resolver.NotConfigured("%s and %s are not set, and there is no profile %s", EnvRuleID, EnvOrganizationID, path)
	case err != nil:
		return nil, fmt.Errorf("%s=%s: %w", from, name, err)
	}
	switch p.Authentication.Type {
	case typeFederation:
	case typeUserOAuth:
		return nil, fmt.Errorf("%s=%s: profile %s is a user_oauth login, which credchain's federation source does not use; sign in with `credchain login` instead", from, name, path)
	default:
		return nil, fmt.Errorf("%s=%s: authentication.type %q in %s is not a known authentication type", from, name, p.Authentication.Type, path)
	}
	a := p.Authentication
	c := &exchangeConfig{
		mode: "profile " + name, rule: a.FederationRuleID, org: p.OrganizationID, serviceAccount: a.ServiceAccountID,
		workspace: p.WorkspaceID, scope: a.Scope, baseURL: p.BaseURL, baseFrom: path + " base_url",
	}
	if a.IdentityToken != nil {
		if a.IdentityToken.Source != "file" || a.IdentityToken.Path == "" {
			return nil, fmt.Errorf("profile %s: authentication.identity_token needs source \"file\" and a path", path)
		}
		c.tokenFile, c.tokenFileFrom = a.IdentityToken.Path, path+" identity_token.path"
	}
	// Variables fill what the profile leaves out; they never override it.
	s.fillFromEnv(c)
	return c, s.finish(c)
}
