package main

import (
	"encoding/json"
	"io"
	"time"

	"github.com/credchain/credchain/resolver"
)

// tokenJSON is the stable shape of credchain token --format json.
type tokenJSON struct {
	Source    string     `json:"source"`
	Kind      string     `json:"kind"`
	Token     string     `json:"token,omitempty"`
	ExpiresAt *time.Time `json:"expires_at"`
	// Kind aws only.
	AccessKeyID     string `json:"access_key_id,omitempty"`
	SecretAccessKey string `json:"secret_access_key,omitempty"`
	SessionToken    string `json:"session_token,omitempty"`
	Region          string `json:"region,omitempty"`
}

func jsonFormat() tokenFormat {
	return tokenFormat{
		name: "json",
		help: `{"source","kind","token","expires_at"} (RFC 3339 or null)`,
		write: func(w io.Writer, cred *resolver.Credential, _ formatContext) error {
			v := tokenJSON{Source: cred.Source, Kind: string(cred.Kind), Token: cred.Token.Reveal()}
			if !cred.Expiry.IsZero() {
				t := cred.Expiry.UTC()
				v.ExpiresAt = &t
			}
			if k := cred.AWS; k != nil {
				v.AccessKeyID, v.SecretAccessKey, v.SessionToken, v.Region = k.AccessKeyID, k.SecretAccessKey.Reveal(), k.SessionToken.Reveal(), k.Region
			}
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			return enc.Encode(v)
		},
	}
}
