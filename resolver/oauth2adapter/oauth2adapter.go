// Package oauth2adapter hands a resolver's credential to code that takes a
// golang.org/x/oauth2 TokenSource (Google's client libraries, the Anthropic
// SDK's vertex package, oauth2.Transport).
//
// Pair it with Resolver.Watch as the HTTP client's base transport, so a 401
// (or what Config.RejectionPolicy names) seen by that client reaches
// Resolver.Invalidate and the next Token is a new one:
//
//	ts := oauth2adapter.TokenSource(ctx, r)
//	client := &http.Client{Transport: &oauth2.Transport{Source: ts, Base: r.Watch(nil)}}
package oauth2adapter

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/oauth2"

	"github.com/credchain/credchain/resolver"
)

// TypeAPIKey is the TokenType of a token made from a resolver.KindAPIKey
// credential: send its AccessToken in the x-api-key header (an
// oauth2.Transport would put it in Authorization, where the Anthropic API
// does not take API keys).
const TypeAPIKey = "x-api-key"

// ErrNotToken is matched by the error Token returns when the resolved
// credential is not a token (AWS keys, which are signed, not sent).
var ErrNotToken = errors.New("the credential is not a token")

// TokenSource returns an oauth2.TokenSource over r. Every Token call is a
// Resolve (one atomic load while the credential is fresh), so there is no
// need to wrap it in oauth2.ReuseTokenSource, and doing so would keep
// serving a refused token until its expiry. ctx bounds the waits of Token
// when a credential must be fetched; a ctx that ends fails later calls.
func TokenSource(ctx context.Context, r *resolver.Resolver) oauth2.TokenSource {
	return &source{ctx: ctx, r: r}
}

type source struct {
	ctx context.Context
	r   *resolver.Resolver
}

// Token implements oauth2.TokenSource.
func (s *source) Token() (*oauth2.Token, error) {
	cred, err := s.r.Resolve(s.ctx)
	if err != nil {
		return nil, fmt.Errorf("credchain token source: %w", err)
	}
	return FromCredential(cred)
}

// FromCredential converts a token credential (API key, bearer, Google) to
// an oauth2.Token with its expiry (zero when it does not expire).
func FromCredential(cred *resolver.Credential) (*oauth2.Token, error) {
	var typ string
	switch cred.Kind {
	case resolver.KindBearer, resolver.KindGoogle:
		typ = "Bearer"
	case resolver.KindAPIKey:
		typ = TypeAPIKey
	default:
		return nil, fmt.Errorf("credchain token source: %s gives a %s credential: %w", cred.Source, cred.Kind, ErrNotToken)
	}
	return &oauth2.Token{AccessToken: cred.Token.Reveal(), TokenType: typ, Expiry: cred.Expiry}, nil
}
