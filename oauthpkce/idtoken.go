package oauthpkce

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// claims are the JWT claims credchain reads. They are read WITHOUT checking
// the signature: for display (who logged in), as an expiry fallback, and to
// match an ID token to its login (verifyIDToken). The ID token of a login
// comes straight from the token endpoint over TLS, which OpenID Connect Core
// §3.1.3.7 accepts in place of checking the signature; credchain never uses
// it for an authorization decision.
type claims struct {
	Iss   string   `json:"iss"`
	Sub   string   `json:"sub"`
	Aud   audience `json:"aud"`
	Email string   `json:"email"`
	Exp   int64    `json:"exp"`
	Nonce string   `json:"nonce"`
}

// audience is the aud claim: one string or an array of them.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

func parseClaims(jwt string) (claims, bool) {
	var c claims
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 || len(parts[1]) > 64<<10 {
		return c, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return c, false
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return claims{}, false
	}
	c.Sub, c.Email = sanitize(c.Sub), sanitize(c.Email)
	return c, true
}

// verifyIDToken checks that the ID token of a login belongs to it (OpenID
// Connect Core §3.1.3.7): the nonce this login sent, the issuer it logged in
// to (when known), this client among the audiences, and not expired.
func verifyIDToken(idToken, issuer, clientID, nonce string, now time.Time) error {
	c, ok := parseClaims(idToken)
	if !ok {
		return fmt.Errorf("%w: it is not a JWT with a JSON payload", ErrIDTokenInvalid)
	}
	switch {
	case nonce != "" && c.Nonce != nonce:
		if c.Nonce == "" {
			return fmt.Errorf("%w: it carries no nonce, and this login sent one", ErrIDTokenInvalid)
		}
		return fmt.Errorf("%w: its nonce is not the one this login sent (a replayed or injected token)", ErrIDTokenInvalid)
	case issuer != "" && strings.TrimSuffix(c.Iss, "/") != strings.TrimSuffix(issuer, "/"):
		return fmt.Errorf("%w: its issuer is %q, not %q", ErrIDTokenInvalid, sanitize(c.Iss), issuer)
	case clientID != "" && !slices.Contains(c.Aud, clientID):
		return fmt.Errorf("%w: its audience %q does not include the client id %q", ErrIDTokenInvalid, sanitize(strings.Join(c.Aud, " ")), clientID)
	case c.Exp != 0 && !time.Unix(c.Exp, 0).After(now.Add(-time.Minute)):
		return fmt.Errorf("%w: it expired at %s", ErrIDTokenInvalid, time.Unix(c.Exp, 0).UTC().Format(time.RFC3339))
	}
	return nil
}
