package aws

import (
	"context"
	"errors"
	"fmt"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"

	"github.com/credchain/credchain/resolver"
)

// ErrNotAWS is matched by the error CredentialsProvider's Retrieve returns
// when the resolved credential holds no AWS keys (a bearer token won).
var ErrNotAWS = errors.New("the credential is not AWS keys")

// CredentialsProvider returns an aws.CredentialsProvider over r, for
// aws-sdk-go-v2 clients and the Anthropic SDK's bedrock.WithConfig. Every
// Retrieve is a Resolve (one atomic load while the credential is fresh) and
// reports CanExpire and Expires from the credential.
//
// Do not wrap it in aws.NewCredentialsCache: the resolver already caches,
// and a cache would keep serving refused keys until they expire. Give the
// client an HTTP client whose transport is r.Watch(base), so a 401 or 403
// for these keys reaches Invalidate and the next Retrieve returns new ones.
func CredentialsProvider(r *resolver.Resolver) sdkaws.CredentialsProvider {
	return provider{r: r}
}

type provider struct{ r *resolver.Resolver }

// Retrieve implements aws.CredentialsProvider.
func (p provider) Retrieve(ctx context.Context) (sdkaws.Credentials, error) {
	cred, err := p.r.Resolve(ctx)
	if err != nil {
		return sdkaws.Credentials{}, fmt.Errorf("credchain: %w", err)
	}
	if cred.Kind != resolver.KindAWS || cred.AWS == nil {
		return sdkaws.Credentials{}, fmt.Errorf("credchain: %s gives a %s credential: %w", cred.Source, cred.Kind, ErrNotAWS)
	}
	return sdkaws.Credentials{
		AccessKeyID:     cred.AWS.AccessKeyID,
		SecretAccessKey: cred.AWS.SecretAccessKey.Reveal(),
		SessionToken:    cred.AWS.SessionToken.Reveal(),
		Source:          "credchain:" + cred.Source,
		CanExpire:       !cred.Expiry.IsZero(),
		Expires:         cred.Expiry,
	}, nil
}
