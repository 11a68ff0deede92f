package oauthpkce

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/credchain/credchain/resolver"
)

// Meta keys of the stored credential (non-secret, shown by status).
const (
	MetaIssuer     = "issuer"
	MetaClientID   = "client_id"
	MetaTokenURL   = "token_url"
	MetaRevokeURL  = "revocation_url"
	MetaScopes     = "scopes"
	MetaSubject    = "subject"
	MetaEmail      = "email"
	MetaTokenType  = "token_type"
	MetaLoggedInAt = "logged_in_at"
)

// Source is the "oauth" credential source. It is safe for concurrent use.
type Source struct {
	cfg Config

	mu    sync.Mutex
	disco *discoveryDoc
}

var (
	_ resolver.Source     = (*Source)(nil)
	_ resolver.Persistent = (*Source)(nil)
	_ resolver.Revoker    = (*Source)(nil)
	_ resolver.Describer  = (*Source)(nil)
	_ resolver.Prober     = (*Source)(nil)
)

// New checks cfg and returns the source. Nothing is fetched yet; settings
// needed only to log in (issuer, client id) are checked by Login.
func New(cfg Config) (*Source, error) {
	cfg.Scopes = slices.Clone(cfg.Scopes)
	cfg.AuthParams = maps.Clone(cfg.AuthParams)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Source{cfg: cfg}, nil
}

// Name implements resolver.Source.
func (s *Source) Name() string { return s.cfg.Name }

// Persistent implements resolver.Persistent: the login lives in the
// store. With no oauth settings at all Probe says the source does not apply,
// so the resolver never opens the keychain for it.
func (s *Source) Persistent() bool { return true }

// Probe implements resolver.Prober: the source applies once oauth settings
// exist (whether a login is stored is known only from the store).
func (s *Source) Probe() error {
	if !s.configured() {
		return resolver.NotConfigured("no OAuth login is configured (set oauth.issuer and oauth.client_id, then run credchain login)")
	}
	return nil
}

// configured reports whether any oauth setting names a provider or client.
func (s *Source) configured() bool {
	c := &s.cfg
	return c.ClientID != "" || c.Issuer != "" || c.TokenURL != "" || c.AuthorizeURL != ""
}

// Describe implements resolver.Describer.
func (s *Source) Describe() map[string]string {
	d := map[string]string{"redirect": string(s.cfg.Redirect)}
	for k, v := range map[string]string{
		MetaIssuer: s.cfg.Issuer, MetaClientID: s.cfg.ClientID, MetaTokenURL: s.cfg.TokenURL,
		MetaScopes: strings.Join(s.cfg.Scopes, " "),
	} {
		if v != "" {
			d[k] = v
		}
	}
	return d
}

func (s *Source) httpClient() *http.Client {
	if s.cfg.HTTPClient != nil {
		return s.cfg.HTTPClient
	}
	return &http.Client{Timeout: s.cfg.RequestTimeout}
}

// Fetch implements resolver.Source: one refresh_token grant with prev's
// refresh token. The resolver calls it under the store's lock with the newest
// stored credential as prev.
func (s *Source) Fetch(ctx context.Context, prev *resolver.Credential) (*resolver.Credential, error) {
	if prev == nil {
		return nil, resolver.NotConfigured("not logged in; run credchain login")
	}
	if prev.Refresh.IsZero() {
		return nil, noRefreshError(prev)
	}
	tokenURL, clientID, err := s.refreshEndpoint(ctx, prev)
	if err != nil {
		return nil, err
	}
	conf := &oauth2.Config{ClientID: clientID, Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	rec := &responseRecorder{}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, rec.client(s.httpClient()))
	refresh := prev.Refresh.Reveal()
	tok, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refresh}).Token()
	if err != nil {
		return nil, classify("refresh", tokenURL, err, rec, refresh)
	}
	if tok.RefreshToken == "" {
		// Providers that do not rotate may omit it; the old one stays good.
		tok.RefreshToken = refresh
	}
	meta := maps.Clone(prev.Meta)
	if meta == nil {
		meta = map[string]string{}
	}
	meta[MetaTokenURL] = tokenURL
	meta[MetaClientID] = clientID
	return s.credential(tok, tokenURL, rec, meta, time.Now())
}

// noRefreshError says why a stored login cannot be refreshed: the provider
// refused its refresh token (when, and with which error), or never issued
// one (and why).
func noRefreshError(prev *resolver.Credential) error {
	until := "has no stated expiry"
	if !prev.Expiry.IsZero() {
		verb := "expires"
		if !prev.Expiry.After(time.Now()) {
			verb = "expired"
		}
		until = verb + " at " + prev.Expiry.UTC().Format(time.RFC3339)
	}
	switch {
	case prev.Meta[MetaRefreshRefused] != "":
		return fmt.Errorf("the provider refused the refresh token at %s; the access token %s; run credchain login: %w",
			prev.Meta[MetaRefreshRefused], until, resolver.ErrLoginRequired)
	case prev.Meta[MetaNoRefreshReason] != "":
		return fmt.Errorf("the provider issued no refresh token at login (%s); the access token %s; run credchain login: %w",
			prev.Meta[MetaNoRefreshReason], until, resolver.ErrLoginRequired)
	}
	return fmt.Errorf("the stored login has no refresh token; the access token %s; run credchain login: %w", until, resolver.ErrLoginRequired)
}

// refreshEndpoint is the token endpoint and client id for a refresh: those
// recorded at login, so a refresh needs neither settings nor discovery.
func (s *Source) refreshEndpoint(ctx context.Context, prev *resolver.Credential) (tokenURL, clientID string, err error) {
	tokenURL, clientID = prev.Meta[MetaTokenURL], prev.Meta[MetaClientID]
	if clientID == "" {
		clientID = s.cfg.ClientID
	}
	if clientID == "" {
		return "", "", errors.New("the stored login names no client id and oauth.client_id is not set; set it or run credchain login again")
	}
	if tokenURL == "" {
		tokenURL = s.cfg.TokenURL
	}
	if tokenURL == "" {
		ep, err := s.resolveEndpoints(ctx)
		if err != nil {
			return "", "", fmt.Errorf("the stored login names no token endpoint: %w", err)
		}
		tokenURL = ep.Token
	}
	if err := checkHTTPURL(tokenURL); err != nil {
		return "", "", fmt.Errorf("stored token endpoint: %w; run credchain login again", err)
	}
	return tokenURL, clientID, nil
}

// credential turns a token response into the credential to store.
func (s *Source) credential(tok *oauth2.Token, tokenURL string, rec *responseRecorder, meta map[string]string, now time.Time) (*resolver.Credential, error) {
	if tt := tok.Type(); !strings.EqualFold(tt, "bearer") {
		return nil, &TokenError{Op: "token response", Endpoint: tokenURL, Status: rec.status(),
			Description: fmt.Sprintf("token_type is %q; credchain sends only bearer tokens", sanitize(tt))}
	}
	if strings.ContainsAny(tok.AccessToken, "\r\n\x00") || strings.TrimSpace(tok.AccessToken) != tok.AccessToken {
		return nil, &TokenError{Op: "token response", Endpoint: tokenURL, Status: rec.status(),
			Description: "access_token contains whitespace or control characters and cannot be sent in a header"}
	}
	if tok.RefreshToken != "" {
		// A working refresh token makes the notes about a missing one
		// obsolete.
		delete(meta, MetaRefresh)
		delete(meta, MetaNoRefreshReason)
		delete(meta, MetaRefreshRefused)
	}
	expiry := tok.Expiry
	if expiry.IsZero() {
		if c, ok := parseClaims(tok.AccessToken); ok && c.Exp > 0 {
			expiry = time.Unix(c.Exp, 0)
		}
	}
	if !expiry.IsZero() && !expiry.After(now) {
		return nil, &TokenError{Op: "token response", Endpoint: tokenURL, Status: rec.status(),
			Description: "the access token it returned has already expired (expires_in is not positive)"}
	}
	if sc, ok := tok.Extra("scope").(string); ok && sc != "" {
		meta[MetaScopes] = strings.Join(strings.Fields(sc), " ")
	} else if _, ok := meta[MetaScopes]; !ok && len(s.cfg.Scopes) > 0 {
		meta[MetaScopes] = strings.Join(s.cfg.Scopes, " ")
	}
	if idt, ok := tok.Extra("id_token").(string); ok && idt != "" {
		if c, ok := parseClaims(idt); ok {
			if c.Sub != "" {
				meta[MetaSubject] = c.Sub
			}
			if c.Email != "" {
				meta[MetaEmail] = c.Email
			}
		}
	}
	return &resolver.Credential{
		Kind:    resolver.KindBearer,
		Token:   resolver.NewSecret(tok.AccessToken),
		Refresh: resolver.NewSecret(tok.RefreshToken),
		Expiry:  expiry,
		Source:  s.cfg.Name,
		Meta:    meta,
	}, nil
}

// Revoke implements resolver.Revoker: RFC 7009 revocation of the refresh
// token (or the access token when there is none) where the provider has a
// revocation endpoint. A provider without one (Dex) has nothing to call;
// logout then only removes the stored record.
func (s *Source) Revoke(ctx context.Context, cred *resolver.Credential) error {
	endpoint := cred.Meta[MetaRevokeURL]
	if endpoint == "" {
		endpoint = s.cfg.RevocationURL
	}
	if endpoint == "" && s.cfg.Issuer != "" {
		if doc, err := s.discover(ctx); err == nil {
			endpoint = doc.RevocationEndpoint
		}
	}
	if endpoint == "" {
		return nil
	}
	if err := checkHTTPURL(endpoint); err != nil {
		return fmt.Errorf("revocation endpoint: %w", err)
	}
	form := url.Values{"client_id": {cred.Meta[MetaClientID]}}
	if form.Get("client_id") == "" {
		form.Set("client_id", s.cfg.ClientID)
	}
	secret := cred.Refresh.Reveal()
	if secret != "" {
		form.Set("token", secret)
		form.Set("token_type_hint", "refresh_token")
	} else {
		form.Set("token", cred.Token.Reveal())
		form.Set("token_type_hint", "access_token")
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("revocation endpoint %s: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("revocation endpoint %s: %w", endpoint, redactErr(err, secret))
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revocation endpoint %s answered HTTP %d", endpoint, resp.StatusCode)
	}
	return nil
}

// responseRecorder remembers the status and content type of the last token
// endpoint response, which golang.org/x/oauth2 does not report for a
// successful status with an unparseable body.
type responseRecorder struct {
	mu          sync.Mutex
	code        int
	contentType string
	retryAfter  string
}

func (r *responseRecorder) client(base *http.Client) *http.Client {
	c := *base
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if resp != nil {
			r.mu.Lock()
			r.code, r.contentType, r.retryAfter = resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After")
			r.mu.Unlock()
		}
		return resp, err
	})
	return &c
}

func (r *responseRecorder) status() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.code
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
