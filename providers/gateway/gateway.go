// Package gateway is the environment-only Claude apps gateway session as a
// credential source ("gateway"), as Claude Code reads it:
// CLAUDE_CODE_USE_GATEWAY truthy with ANTHROPIC_BASE_URL (the gateway) and
// ANTHROPIC_AUTH_TOKEN (the session token) sends that token as a bearer
// token. A gateway session outranks every other credential and provider.
// When the token is a JWT its exp is the credential's expiry, so status and
// the scheduler know when it dies; an expired session is an error that says
// to sign in again.
//
// The package has no dependency beyond resolver and the standard library.
package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/credchain/credchain/resolver"
)

// Name is the source's name.
const Name = "gateway"

// Environment variables, as Claude Code names them.
const (
	EnvUseGateway = "CLAUDE_CODE_USE_GATEWAY"
	EnvBaseURL    = "ANTHROPIC_BASE_URL"
	EnvAuthToken  = "ANTHROPIC_AUTH_TOKEN"
)

// ErrSessionExpired is matched by the error returned when the session
// token's exp has passed: only signing in to the gateway again helps.
var ErrSessionExpired = errors.New("the gateway session has expired")

// Options configures the source; the zero value follows the environment.
type Options struct {
	// Enabled turns the source on without CLAUDE_CODE_USE_GATEWAY
	// (gateway.enabled).
	Enabled bool `mapstructure:"enabled"`
	// Getenv reads the environment (os.Getenv when nil).
	Getenv func(string) string
	// Now is the clock for the expiry check (time.Now when nil).
	Now func() time.Time
	// EnableVariable, BaseURLVariable and TokenVariable rename the
	// variables (Claude Code's names when empty).
	EnableVariable, BaseURLVariable, TokenVariable string
}

// Source is the "gateway" credential source. It does not implement
// resolver.Persistent: the session token is read from the environment on
// every Fetch and never copied into the store, so there is no record
// another gateway or session could be served, and no resolver.Identifier.
type Source struct{ opts Options }

// New returns the source. It does no I/O.
func New(opts Options) *Source {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	for p, def := range map[*string]string{&opts.EnableVariable: EnvUseGateway, &opts.BaseURLVariable: EnvBaseURL, &opts.TokenVariable: EnvAuthToken} {
		if *p == "" {
			*p = def
		}
	}
	return &Source{opts: opts}
}

// Name implements resolver.Source.
func (s *Source) Name() string { return Name }

// Probe implements resolver.Prober.
func (s *Source) Probe() error {
	return resolver.ProbeSwitch(s.opts.Enabled, s.opts.Getenv, s.opts.EnableVariable)
}

// Describe implements resolver.Describer.
func (s *Source) Describe() map[string]string {
	m := map[string]string{}
	if u := strings.TrimSpace(s.opts.Getenv(s.opts.BaseURLVariable)); u != "" {
		m["gateway"] = u
	}
	return m
}

// Fetch implements resolver.Source.
func (s *Source) Fetch(context.Context, *resolver.Credential) (*resolver.Credential, error) {
	raw := strings.TrimSpace(s.opts.Getenv(s.opts.BaseURLVariable))
	if raw == "" {
		return nil, fmt.Errorf("%s is set but %s is not: set it to the gateway's URL", s.opts.EnableVariable, s.opts.BaseURLVariable)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%s is set but %s is invalid: %q is not an absolute http(s) URL", s.opts.EnableVariable, s.opts.BaseURLVariable, raw)
	}
	tok := strings.TrimSpace(s.opts.Getenv(s.opts.TokenVariable))
	if tok == "" {
		return nil, fmt.Errorf("%s is set but %s is not: set it to the gateway session token", s.opts.EnableVariable, s.opts.TokenVariable)
	}
	meta := map[string]string{"gateway": u.Host, "auth": s.opts.TokenVariable}
	cred := &resolver.Credential{Kind: resolver.KindBearer, Token: resolver.NewSecret(tok), Source: Name, Meta: meta}
	exp, ok := JWTExpiry(tok)
	if !ok {
		meta["expiry"] = "unknown (not a JWT with exp)"
		return cred, nil
	}
	if !exp.After(s.opts.Now()) {
		return nil, fmt.Errorf("%w: the token in %s expired at %s; sign in to the gateway %s again", ErrSessionExpired, s.opts.TokenVariable, exp.UTC().Format(time.RFC3339), u.Host)
	}
	cred.Expiry = exp
	return cred, nil
}

// JWTExpiry reads the exp claim of a JWT without verifying it (the gateway
// does that): the token's holder only needs to know when it dies. ok is
// false when tok is not a JWT or has no numeric exp.
func JWTExpiry(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp *float64 `json:"exp"` // NumericDate (RFC 7519): a number, never a string
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp == nil || *claims.Exp <= 0 {
		return time.Time{}, false
	}
	return time.Unix(int64(*claims.Exp), 0), true
}
