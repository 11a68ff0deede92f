package config

import (
	"context"
	"fmt"
	"io"

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

	case SourceOAuth:
		o := s.OAuth
		src, err := oauthpkce.New(oauthpkce.Config{
			Name: name, Issuer: o.Issuer, AuthorizeURL: o.AuthorizeURL, TokenURL: o.TokenURL,
			RevocationURL: o.RevocationURL, ClientID: o.ClientID, Scopes: o.Scopes,
			Redirect: oauthpkce.RedirectMode(o.Redirect), PasteRedirectURI: o.PasteRedirectURI,
			CallbackPort: o.CallbackPort, AuthParams: o.AuthorizeParams,
			NoConsentPrompt: o.NoConsentPrompt, DeviceAuthURL: o.DeviceAuthURL,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return src, nil
	case SourceBedrock, SourceVertex:
		return s.newCloudSource(ctx, name, cfg)
	}
	return nil, fmt.Errorf("config: unknown source %q", name)
}

// commandOutput is where a cloud source's refresh command shows its output:
// the terminal in an interactive session, else nowhere (the output is then
// put in the error).
func (s *Settings) commandOutput() io.Writer {
	if s.interactive {
		return s.output
	}
	return nil
}
