// Package oauthpkce is credchain's "oauth" source: an OAuth 2.0 authorization
// code login with PKCE (RFC 7636, always S256) over an RFC 8252 loopback
// redirect or a pasted code, and the refresh_token grant with rotating
// refresh tokens.
//
// The source is small on purpose. The resolver owns everything that is the
// same for every stored credential: the store's cross-process lock, re-reading
// the record and adopting a token another process refreshed, writing the
// rotated refresh token before the new access token is handed out, clearing a
// dead refresh token (re-read under the lock, removed only if the store still
// holds that same token), timing and backoff. Source.Fetch only performs one
// refresh with the refresh token it is given and says, by the error it
// returns, whether the failure is transient (retry), needs a new login (an
// error wrapping resolver.ErrLoginRequired) or is permanent (wrapping
// resolver.ErrPermanent: invalid_client, unauthorized_client, a 200 that is
// not a token response); an answer that rotated the refresh token but
// carries no usable access token comes back as a resolver.KeepError, so the
// new refresh token is stored all the same.
//
// Source.Login runs the browser flow once and returns the credential; the
// caller hands it to resolver.Resolver.Store, which writes it under the lock
// and arms the refresh timer.
package oauthpkce
