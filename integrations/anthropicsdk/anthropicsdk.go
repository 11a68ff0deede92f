// Package anthropicsdk plugs a credchain resolver into the official Go SDK,
// github.com/anthropics/anthropic-sdk-go/v2. It is a module of its own, so
// credchain's core module does not depend on the SDK.
//
//	r, err := resolver.New(ctx, cfg)
//	opts, err := anthropicsdk.Options(ctx, r)
//	client := anthropic.NewClient(opts...)
//
// Options looks at the credential the chain resolves and returns the SDK
// request options for it:
//
//   - an API key or bearer token (the first-party API): the SDK's
//     environment defaults are turned off (option.WithoutEnvironmentDefaults,
//     so ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN and profiles are not read
//     by the SDK), and the HTTP client's transport is resolver.Transport,
//     which removes any credential header the SDK or the caller set and
//     sends exactly the resolved one; a 401 refreshes once and retries.
//     ANTHROPIC_BASE_URL is honoured, as Claude Code does.
//   - AWS keys or a Bedrock API key from the "bedrock" source: the SDK's own
//     bedrock package (bedrock.WithConfig) with credchain's
//     aws.CredentialsProvider, so the SDK rewrites and signs the request
//     itself and the body stays intact.
//   - a Google token (the "vertex" source): the SDK's vertex package with an
//     oauth2 TokenSource over the resolver, for the region and project the
//     source reports.
//   - AWS keys of another source (Claude Platform on AWS, Mantle), or a
//     cloud source whose CLAUDE_CODE_SKIP_*_AUTH is set and sends nothing:
//     ErrUnsupported; use an HTTP client over r.Transport with the SDK's
//     package for that platform.
//
// In the cloud cases the HTTP client's transport is resolver.Watch, so a
// refusal (see resolver.RejectionPolicy) reaches Invalidate and the next
// request carries a new credential. In every case an error that retrying
// cannot fix (resolver.ErrPermanent: nothing configured, login required,
// resolver closed) is returned by the first attempt, not retried by the SDK.
package anthropicsdk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/anthropics/anthropic-sdk-go/v2/bedrock"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/anthropics/anthropic-sdk-go/v2/vertex"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/auth/bearer"
	"golang.org/x/oauth2/google"

	credaws "github.com/credchain/credchain/providers/aws"
	"github.com/credchain/credchain/providers/gcp"
	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/resolver/oauth2adapter"
)

// Settings adjusts Options. The zero value is what most programs want.
type Settings struct {
	// Base is the transport under credchain's (http.DefaultTransport when
	// nil).
	Base http.RoundTripper
	// Getenv reads ANTHROPIC_BASE_URL (os.Getenv when nil).
	Getenv func(string) string
}

// ErrUnsupported is matched by the error Options returns for a credential
// it cannot hand to the SDK.
var ErrUnsupported = errors.New("the Anthropic SDK cannot use this credential")

// Options returns the anthropic-sdk-go request options that authenticate
// every request of a client with r's chain; pass them to anthropic.NewClient
// before options of your own (a later option.WithBaseURL still wins). It
// resolves the credential once, so nothing configured (resolver.ErrNoSource)
// or a failing source is reported here, before the first request. The choice of first-party, Bedrock or Vertex follows
// the source that wins now; build a new client if the chain changes.
func Options(ctx context.Context, r *resolver.Resolver, settings ...Settings) ([]option.RequestOption, error) {
	var s Settings
	if len(settings) > 0 {
		s = settings[0]
	}
	if s.Base == nil {
		s.Base = http.DefaultTransport
	}
	if s.Getenv == nil {
		s.Getenv = os.Getenv
	}
	cred, err := r.Resolve(ctx)
	if err != nil {
		return nil, fmt.Errorf("anthropicsdk: %w", err)
	}
	// First, so it is the outermost middleware and sees every error.
	opts := []option.RequestOption{option.WithMiddleware(noRetryOfPermanent)}
	bedrockSrc, vertexSrc := cred.Source == credaws.Name, cred.Source == gcp.Name
	switch {
	case (bedrockSrc || vertexSrc) && cred.Kind == resolver.KindNone:
		return nil, fmt.Errorf("anthropicsdk: %s sends no credential (its CLAUDE_CODE_SKIP_*_AUTH is set), which the SDK's %s package cannot do; use an HTTP client over r.Transport: %w", cred.Source, cred.Source, ErrUnsupported)
	case bedrockSrc && (cred.Kind == resolver.KindAWS || cred.Kind == resolver.KindBearer):
		region := cred.Meta["region"]
		if cred.AWS != nil && cred.AWS.Region != "" {
			region = cred.AWS.Region
		}
		if region == "" {
			return nil, fmt.Errorf("anthropicsdk: %w", credaws.ErrNoRegion)
		}
		cfg := sdkaws.Config{Region: region}
		if cred.Kind == resolver.KindAWS {
			cfg.Credentials = credaws.CredentialsProvider(r)
		} else {
			cfg.BearerAuthTokenProvider = bearerProvider{r}
			cfg.AuthSchemePreference = []string{"httpBearerAuth"}
		}
		opts = append(opts,
			option.WithHTTPClient(&http.Client{Transport: r.Watch(s.Base)}),
			bedrock.WithConfig(cfg))
	case vertexSrc || cred.Kind == resolver.KindGoogle:
		region, project := cred.Meta["region"], cred.Meta["project"]
		if project == "" {
			return nil, fmt.Errorf("anthropicsdk: %s: no Google Cloud project is known; set gcp.project or ANTHROPIC_VERTEX_PROJECT_ID: %w", cred.Source, resolver.ErrPermanent)
		}
		creds := &google.Credentials{ProjectID: project, TokenSource: oauth2adapter.TokenSource(context.WithoutCancel(ctx), r)}
		// The vertex package wraps a client passed before it with its
		// OAuth transport, over Watch.
		opts = append(opts,
			option.WithHTTPClient(&http.Client{Transport: r.Watch(s.Base)}),
			vertex.WithCredentials(ctx, region, project, creds))
	case cred.Kind == resolver.KindAPIKey || cred.Kind == resolver.KindBearer || cred.Kind == resolver.KindNone:
		opts = append(opts,
			option.WithoutEnvironmentDefaults(),
			option.WithHTTPClient(&http.Client{Transport: r.Transport(s.Base)}))
		if u := s.Getenv("ANTHROPIC_BASE_URL"); u != "" {
			opts = append(opts, option.WithBaseURL(u))
		}
	default:
		return nil, fmt.Errorf("anthropicsdk: %s gives a %s credential: %w", cred.Source, cred.Kind, ErrUnsupported)
	}
	return opts, nil
}

// noRetryOfPermanent stops the SDK's retries of an error retrying cannot
// fix. The SDK retries every attempt that has no response; an attempt that
// returns a response saying x-should-retry: false along with the error ends
// the call with that error.
func noRetryOfPermanent(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	resp, err := next(req)
	if err != nil && resp == nil && resolver.IsPermanent(err) {
		resp = &http.Response{
			Status:     "credchain: not retried",
			StatusCode: http.StatusUnauthorized,
			Header:     http.Header{"X-Should-Retry": {"false"}},
			Body:       http.NoBody,
			Request:    req,
		}
	}
	return resp, err
}

// bearerProvider hands a Bedrock API key (AWS_BEARER_TOKEN_BEDROCK through
// credchain's bedrock source) to the SDK's bedrock package.
type bearerProvider struct{ r *resolver.Resolver }

func (b bearerProvider) RetrieveBearerToken(ctx context.Context) (bearer.Token, error) {
	cred, err := b.r.Resolve(ctx)
	if err != nil {
		return bearer.Token{}, fmt.Errorf("credchain: %w", err)
	}
	if cred.Kind != resolver.KindBearer {
		return bearer.Token{}, fmt.Errorf("credchain: %s gives a %s credential: %w", cred.Source, cred.Kind, ErrUnsupported)
	}
	return bearer.Token{Value: cred.Token.Reveal(), CanExpire: !cred.Expiry.IsZero(), Expires: cred.Expiry}, nil
}
