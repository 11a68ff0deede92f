package main

import (
	"fmt"
	"io"

	"github.com/credchain/credchain/resolver"
)

func textFormat() tokenFormat {
	return tokenFormat{
		name: "text",
		help: "the secret alone and a newline (the default)",
		write: func(w io.Writer, cred *resolver.Credential, _ formatContext) error {
			if cred.Token.IsZero() {
				return fmt.Errorf("token: a credential of kind %s from %s has no single token; use --format json", cred.Kind, cred.Source)
			}
			_, err := io.WriteString(w, cred.Token.Reveal()+"\n")
			return err
		},
	}
}
