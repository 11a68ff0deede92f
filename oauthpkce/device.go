package oauthpkce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/oauth2"

	"github.com/credchain/credchain/resolver"
)

// maxDeviceWait bounds a device login whose provider states no expiry.
const maxDeviceWait = 30 * time.Minute

// DeviceAvailable reports whether the provider has a device authorization
// endpoint (oauth.device_authorization_url, or discovery's
// device_authorization_endpoint), so a login can run without a browser on
// this machine. A discovery failure is returned.
func (s *Source) DeviceAvailable(ctx context.Context) (bool, error) {
	if s.cfg.DeviceAuthURL != "" {
		return true, nil
	}
	if s.cfg.Issuer == "" {
		return false, nil
	}
	ep, err := s.resolveEndpoints(ctx)
	if err != nil {
		return false, err
	}
	return ep.Device != "", nil
}

// deviceLogin runs the device authorization grant (RFC 8628): the person
// opens the verification URI on any device and enters the user code while
// this process polls the token endpoint, honouring the provider's interval
// and every slow_down (golang.org/x/oauth2's DeviceAccessToken).
func (s *Source) deviceLogin(ctx context.Context, ep endpoints, scopes []string, opts LoginOptions, out io.Writer) (*resolver.Credential, error) {
	if ep.Device == "" {
		where := "oauth.device_authorization_url is not set"
		if ep.Doc != nil {
			where = "its discovery document lists no device_authorization_endpoint"
		}
		return nil, fmt.Errorf("%w (%s); log in with the browser flow (without --device), or set oauth.device_authorization_url", ErrNoDeviceEndpoint, where)
	}
	conf := &oauth2.Config{
		ClientID: s.cfg.ClientID,
		Endpoint: oauth2.Endpoint{AuthURL: ep.Authorize, TokenURL: ep.Token, DeviceAuthURL: ep.Device, AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   scopes,
	}
	rec := &responseRecorder{}
	hc := rec.client(s.httpClient())
	actx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	da, err := conf.DeviceAuth(context.WithValue(actx, oauth2.HTTPClient, hc))
	cancel()
	if err != nil {
		return nil, deviceError("device authorization", ep.Device, err, rec, s.cfg.ClientID)
	}
	if da.DeviceCode == "" || da.UserCode == "" || da.VerificationURI == "" {
		return nil, fmt.Errorf("device authorization at %s: the answer lacks device_code, user_code or verification_uri", ep.Device)
	}
	if err := checkHTTPURL(da.VerificationURI); err != nil {
		return nil, fmt.Errorf("device authorization at %s: verification_uri: %w", ep.Device, err)
	}
	start := time.Now()
	deadline := da.Expiry
	if deadline.IsZero() || time.Until(deadline) > maxDeviceWait {
		deadline = time.Now().Add(maxDeviceWait)
	}
	if opts.Timeout > 0 && time.Now().Add(opts.Timeout).Before(deadline) {
		deadline = time.Now().Add(opts.Timeout)
	}
	fmt.Fprintf(out, "To log in, open this page on any device with a browser:\n\n  %s\n\nand enter the code:  %s\n\n", sanitize(da.VerificationURI), sanitize(da.UserCode))
	if da.VerificationURIComplete != "" && checkHTTPURL(da.VerificationURIComplete) == nil {
		fmt.Fprintf(out, "Or open this address, which carries the code:\n\n  %s\n\n", sanitize(da.VerificationURIComplete))
	}
	fmt.Fprintf(out, "Waiting for the approval until %s (Ctrl-C to cancel).\n", deadline.Local().Format("15:04:05"))
	if opts.OnWaiting != nil {
		opts.OnWaiting()
	}
	pctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var tok *oauth2.Token
	for {
		tok, err = conf.DeviceAccessToken(context.WithValue(pctx, oauth2.HTTPClient, hc), da)
		if err == nil || pctx.Err() != nil {
			break
		}
		// x/oauth2 stops polling at any error; a provider that answers one
		// poll with 5xx, 429 or not at all has not refused the login, so
		// polling goes on (at the interval again) until the code expires.
		var te *TokenError
		if !errors.As(deviceError("device token", ep.Token, err, rec, s.cfg.ClientID, da.DeviceCode), &te) || !te.Temporary {
			break
		}
		fmt.Fprintf(out, "A poll failed (%v); still waiting.\n", te)
	}
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("login: %w", ctx.Err())
		case errors.Is(err, context.DeadlineExceeded) && !da.Expiry.IsZero() && !time.Now().Before(da.Expiry):
			return nil, fmt.Errorf("%w: nobody approved the login at %s before the code expired; run credchain login again", ErrDeviceExpired, sanitize(da.VerificationURI))
		case errors.Is(err, context.DeadlineExceeded):
			return nil, fmt.Errorf("%w: nobody approved the device login within %v (--timeout)", ErrLoginTimeout, deadline.Sub(start).Round(time.Second))
		}
		return nil, deviceError("device token", ep.Token, err, rec, s.cfg.ClientID, da.DeviceCode)
	}
	return s.loginCredential(tok, conf, ep, rec, authRequest{scopes: scopes, device: true})
}

// deviceError reports a failed device authorization or device token
// request: access_denied as the person's refusal (AuthorizeError),
// expired_token as ErrDeviceExpired, a client the provider does not know or
// that may not use the grant as ErrClientRejected, and anything else as a
// TokenError.
func deviceError(op, endpoint string, err error, rec *responseRecorder, clientID string, secrets ...string) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		desc := sanitize(re.ErrorDescription, secrets...)
		switch re.ErrorCode {
		case "access_denied":
			return &AuthorizeError{Code: re.ErrorCode, Description: desc}
		case "expired_token":
			return fmt.Errorf("%w: the provider says the code expired before the login was approved (expired_token); run credchain login again", ErrDeviceExpired)
		case "invalid_client", "unauthorized_client":
			if desc != "" {
				desc = ": " + desc
			}
			return fmt.Errorf("%w: %s at %s: %s%s; check oauth.client_id (%q) and that the client may use the device grant", ErrClientRejected, op, endpoint, re.ErrorCode, desc, clientID)
		}
	}
	return classify(op, endpoint, err, rec, secrets...)
}
