package oauthpkce

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// claims are the JWT claims credchain shows. They are read WITHOUT checking
// the signature: only for display (who logged in) and as an expiry fallback,
// never for an authorization decision.
type claims struct {
	Sub   string `json:"sub"`
	Email string `json:"email"`
	Exp   int64  `json:"exp"`
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
