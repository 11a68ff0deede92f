package config

import (
	"context"
	"fmt"

	"github.com/credchain/credchain/apikey"
	"github.com/credchain/credchain/fdsource"
	"github.com/credchain/credchain/oauthpkce"
	"github.com/credchain/credchain/resolver"
)

// newSource builds the source called name. It is the one place that knows
// every source package. cfg is the resolver.Config being built, so a source
// that needs more than a Source (a Signer for its kind) can add it.
func (s *Settings) newSource(ctx context.Context, name string, cfg *resolver.Config) (resolver.Source, error) {
	_ = ctx // for sources that load SDK configuration while being built
	v := s.Variables
	switch name {
	case SourceAuthToken:
		return apikey.NewEnv(name, v.AuthToken, resolver.KindBearer, s.getenv), nil
	case SourceAPIKey:
		return apikey.NewEnv(name, v.APIKey, resolver.KindAPIKey, s.getenv), nil
	case SourceAPIKeyFD:
		return fdsource.New(name, v.APIKeyFD, resolver.KindAPIKey, s.getenv), nil
	case SourceOAuthToken:
		return apikey.NewEnv(name, v.OAuthToken, resolver.KindBearer, s.getenv), nil
	case SourceOAuthTokenFD:
		return fdsource.New(name, v.OAuthTokenFD, resolver.KindBearer, s.getenv), nil
	case SourceAPIKeyHelper:
		// Not configured (with the reason) when the command is empty.
		return apikey.NewHelper(apikey.HelperOptions{
			Name: name, Command: s.APIKeyHelper, TTL: s.APIKeyHelperTTL, Timeout: s.APIKeyHelperTimeout,
		}), nil

	// --- Not built in yet: each case below is replaced by the package that
	// implements it (oauth: oauthpkce, issue 3; bedrock: providers/aws and
	// vertex: providers/gcp, issue 4). Settings: s.OAuth, s.AWS, s.GCP.
	case SourceOAuth:
		o := s.OAuth
		src, err := oauthpkce.New(oauthpkce.Config{
			Name: name, Issuer: o.Issuer, AuthorizeURL: o.AuthorizeURL, TokenURL: o.TokenURL,
			RevocationURL: o.RevocationURL, ClientID: o.ClientID, Scopes: o.Scopes,
			Redirect: oauthpkce.RedirectMode(o.Redirect), PasteRedirectURI: o.PasteRedirectURI,
			CallbackPort: o.CallbackPort, AuthParams: o.AuthorizeParams,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return src, nil
	case SourceBedrock:
		return notConfigured{name, s.enabledWhy(v.UseBedrock, s.AWS.Enabled, "aws.enabled") + " (support for Amazon Bedrock is not built in yet)"}, nil
	case SourceVertex:
		return notConfigured{name, s.enabledWhy(v.UseVertex, s.GCP.Enabled, "gcp.enabled") + " (support for Google Vertex AI is not built in yet)"}, nil
	}
	return nil, fmt.Errorf("config: unknown source %q", name)
}

// enabledWhy says whether a cloud source was asked for.
func (s *Settings) enabledWhy(variable string, enabled bool, key string) string {
	if b, _ := parseBool(s.getenv(variable)); b || enabled {
		return fmt.Sprintf("%s or %s is set", variable, key)
	}
	return fmt.Sprintf("%s is not set", variable)
}

// notConfigured is a source that never applies, with the reason.
type notConfigured struct{ name, why string }

func (n notConfigured) Name() string { return n.name }
func (n notConfigured) Probe() error { return resolver.NotConfigured("%s", n.why) }
func (n notConfigured) Fetch(context.Context, *resolver.Credential) (*resolver.Credential, error) {
	return nil, n.Probe()
}
