package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/credchain/credchain/resolver"
)

// credentialProcessOutput is the AWS credential_process document (Version 1).
type credentialProcessOutput struct {
	Version         int    `json:"Version"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken,omitempty"`
	// Expiration is when the SDK runs credchain again (renewAt); omitted
	// when credchain never re-checks the keys, so the SDK keeps them.
	Expiration string `json:"Expiration,omitempty"`
}

func credentialProcessFormat() tokenFormat {
	return tokenFormat{
		name: "credential-process",
		help: "AWS credential_process JSON (kind aws only)",
		write: func(w io.Writer, cred *resolver.Credential, _ formatContext) error {
			if cred.Kind != resolver.KindAWS || cred.AWS == nil {
				return fmt.Errorf("token: --format credential-process needs AWS keys, but source %s gives a credential of kind %s; configure source bedrock (aws.* settings) or use --format text", cred.Source, cred.Kind)
			}
			v := credentialProcessOutput{
				Version:         1,
				AccessKeyID:     cred.AWS.AccessKeyID,
				SecretAccessKey: cred.AWS.SecretAccessKey.Reveal(),
				SessionToken:    cred.AWS.SessionToken.Reveal(),
			}
			if t := renewAt(cred); !t.IsZero() {
				v.Expiration = t.UTC().Format(time.RFC3339)
			}
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			return enc.Encode(v)
		},
	}
}
