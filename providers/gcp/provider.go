package gcp

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/auth"

	"github.com/credchain/credchain/resolver"
)

// ErrNotToken is matched by the error TokenProvider's Token returns when
// the resolved credential is not a token (AWS keys won).
var ErrNotToken = errors.New("the credential is not a token")

// TokenProvider returns a cloud.google.com/go/auth TokenProvider over r
// (for auth.NewCredentials, and through oauth2adapt for clients that take a
// *google.Credentials). Every Token is a Resolve (one atomic load while the
// credential is fresh), so do not wrap it in auth.NewCachedTokenProvider,
// which would keep serving a refused token. Give the client an HTTP client
// whose transport is r.Watch(base), so a 401 for this token reaches
// Invalidate and the next Token returns a new one.
func TokenProvider(r *resolver.Resolver) auth.TokenProvider {
	return tokenProvider{r: r}
}

type tokenProvider struct{ r *resolver.Resolver }

// Token implements auth.TokenProvider.
func (p tokenProvider) Token(ctx context.Context) (*auth.Token, error) {
	cred, err := p.r.Resolve(ctx)
	if err != nil {
		return nil, fmt.Errorf("credchain: %w", err)
	}
	switch cred.Kind {
	case resolver.KindGoogle, resolver.KindBearer:
	default:
		return nil, fmt.Errorf("credchain: %s gives a %s credential: %w", cred.Source, cred.Kind, ErrNotToken)
	}
	return &auth.Token{Value: cred.Token.Reveal(), Type: "Bearer", Expiry: cred.Expiry}, nil
}
