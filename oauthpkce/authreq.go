package oauthpkce

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Meta keys about the refresh token (non-secret; status shows them).
const (
	// MetaRefresh says, when the login has no usable refresh token, until
	// when it works: "no refresh token: expires at …, then login required".
	MetaRefresh = "refresh"
	// MetaNoRefreshReason is why the provider issued no refresh token at
	// login: the scopes asked for and granted, and the setting to change.
	MetaNoRefreshReason = "no_refresh_token_reason"
	// MetaRefreshRefused is when and how the provider refused the refresh
	// token ("2026-01-02T15:04:05Z invalid_grant: …"); kept in the record
	// after the refused token is dropped.
	MetaRefreshRefused = "refresh_refused"
)

// scopes is what a login asks for: oauth.scopes, or DefaultScopes from an
// OpenID provider.
func (s *Source) scopes() []string {
	if len(s.cfg.Scopes) == 0 && s.cfg.Issuer != "" {
		return SplitScopes(DefaultScopes)
	}
	return s.cfg.Scopes
}

// authRequest is what one login asked the provider for, kept to check the
// answer and to explain a missing refresh token.
type authRequest struct {
	scopes []string
	// nonce is sent with the openid scope and must come back in the ID
	// token.
	nonce string
	// consent: prompt=consent was sent. noConsent says why not, when
	// offline_access was asked for without it.
	consent   bool
	noConsent string
	device    bool
}

// authRequest decides the nonce and prompt of a login.
func (s *Source) authRequest(ep endpoints, scopes []string) authRequest {
	a := authRequest{scopes: scopes}
	if slices.Contains(scopes, "openid") {
		a.nonce = randomState()
	}
	if !slices.Contains(scopes, scopeOffline) {
		return a
	}
	// OpenID Connect Core §11: offline_access is granted only with
	// prompt=consent (or a provider-specific equivalent). Providers that
	// publish no prompt_values_supported are sent it: absence is the
	// common case, not a refusal.
	switch p, set := s.cfg.AuthParams["prompt"]; {
	case set:
		a.noConsent = fmt.Sprintf("oauth.authorize_params sets prompt=%q, which replaces prompt=consent", p)
	case s.cfg.NoConsentPrompt:
		a.noConsent = "prompt=consent was not sent because oauth.no_consent_prompt is set; providers that follow OpenID Connect Core §11 grant offline_access only with it: unset oauth.no_consent_prompt"
	case ep.Doc != nil && ep.Doc.PromptValues != nil && !slices.Contains(ep.Doc.PromptValues, "consent"):
		a.noConsent = fmt.Sprintf("prompt=consent was not sent because the provider's prompt_values_supported %v does not list it", ep.Doc.PromptValues)
	default:
		a.consent = true
	}
	return a
}

// noRefreshReason says exactly why a token response has no refresh token:
// what was asked, what was granted, and what to change.
func (a authRequest) noRefreshReason(clientID, granted string) string {
	g := "the response does not list the granted scopes"
	if granted = strings.Join(strings.Fields(granted), " "); granted != "" {
		g = fmt.Sprintf("granted %q", sanitize(granted))
	}
	asked := strings.Join(a.scopes, " ")
	var why string
	switch {
	case !slices.Contains(a.scopes, scopeOffline):
		why = fmt.Sprintf("offline_access was not requested; add it to oauth.scopes (now %q) if the provider needs it for a refresh token", asked)
	case granted != "" && !slices.Contains(strings.Fields(granted), scopeOffline):
		why = "the provider did not grant offline_access"
	default:
		why = "offline_access was requested, and the provider issued none"
	}
	switch {
	case a.device || !slices.Contains(a.scopes, scopeOffline):
	case a.noConsent != "":
		why += "; " + a.noConsent
	case a.consent:
		why += fmt.Sprintf("; prompt=consent was sent, so the provider's registration of client %q does not allow refresh tokens (ask its administrator to allow the refresh_token grant or offline access)", clientID)
	}
	return fmt.Sprintf("asked for %q, %s: %s", asked, g, why)
}

// noRefreshStatus is MetaRefresh for a login without a refresh token.
func noRefreshStatus(expiry time.Time) string {
	if expiry.IsZero() {
		return "no refresh token: the access token has no stated expiry; login required when it stops working"
	}
	return "no refresh token: expires at " + expiry.UTC().Format(time.RFC3339) + ", then login required"
}

// issuer is the provider's issuer identifier: discovery's (compared
// exactly by RFC 9207), else the configured one.
func (ep endpoints) issuer() string {
	if ep.Doc != nil && ep.Doc.Issuer != "" {
		return ep.Doc.Issuer
	}
	return ep.Issuer
}

// responseIssuer is what the iss parameter of an authorization response
// must be, and whether it must be present (RFC 9207 §2.4).
func (ep endpoints) responseIssuer() (iss string, required bool) {
	if ep.Doc == nil {
		return "", false
	}
	return ep.Doc.Issuer, ep.Doc.IssParameter
}

// pushAuthorization sends the authorization request's parameters to the
// provider's RFC 9126 endpoint and returns the URL the browser opens, which
// carries only client_id and request_uri. A 4xx answer (an unknown client, a
// redirect URI the client may not use) is ErrClientRejected: the settings
// are wrong, and no browser needs to open to find that out.
func (s *Source) pushAuthorization(ctx context.Context, ep endpoints, authURL string) (string, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return "", err
	}
	form := u.Query()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.PAR, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("pushed authorization request %s: %w", ep.PAR, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := s.httpClient().Do(req)
	if err != nil {
		return "", fmt.Errorf("pushed authorization request %s: %w", ep.PAR, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("pushed authorization request %s: reading the answer: %w", ep.PAR, err)
	}
	var ans struct {
		RequestURI  string `json:"request_uri"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &ans)
	if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
		msg := fmt.Sprintf("%s (HTTP %d", ep.PAR, resp.StatusCode)
		if ans.Error != "" {
			msg += " " + sanitize(ans.Error)
		}
		if ans.Description != "" {
			msg += ": " + sanitize(ans.Description)
		}
		return "", fmt.Errorf("%w at %s); check oauth.client_id (%q) and that this client may use the redirect URI %s and the scopes %q",
			ErrClientRejected, msg, s.cfg.ClientID, form.Get("redirect_uri"), form.Get("scope"))
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("pushed authorization request %s answered HTTP %d", ep.PAR, resp.StatusCode)
	}
	if ans.RequestURI == "" {
		return "", fmt.Errorf("pushed authorization request %s: the answer has no request_uri", ep.PAR)
	}
	q := url.Values{"client_id": {s.cfg.ClientID}, "request_uri": {ans.RequestURI}}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
