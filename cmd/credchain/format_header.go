package main

import (
	"fmt"
	"io"

	"github.com/credchain/credchain/resolver"
)

// headerFormat prints the header line to send, for curl -H @-.
func headerFormat() tokenFormat {
	return tokenFormat{
		name: "header",
		help: "the header line to send (x-api-key: … or Authorization: Bearer …), for curl -H @-",
		write: func(w io.Writer, cred *resolver.Credential, _ formatContext) error {
			name, value, ok := cred.Header()
			if !ok || cred.Token.IsZero() {
				return fmt.Errorf("token: --format header needs a token, but source %s gives a credential of kind %s, which is signed per request (SigV4); use --format credential-process or credchain exec", cred.Source, cred.Kind)
			}
			_, err := io.WriteString(w, name+": "+value+"\n")
			return err
		},
	}
}
