package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/credchain/credchain/resolver"
)

// envFormat prints the variables credchain exec would set, as shell export
// lines: eval "$(credchain token --format env)".
func envFormat() tokenFormat {
	return tokenFormat{
		name: "env",
		help: "export NAME='value' lines, shell-quoted (the variables credchain exec sets)",
		write: func(w io.Writer, cred *resolver.Credential, fc formatContext) error {
			vars, err := credentialVars(cred, fc.Exporter)
			if err != nil {
				return fmt.Errorf("token: --format env: %w", err)
			}
			var b strings.Builder
			for _, kv := range vars {
				name, value, _ := strings.Cut(kv, "=")
				b.WriteString("export " + name + "=" + shellQuote(value) + "\n")
			}
			_, err = io.WriteString(w, b.String())
			return err
		},
	}
}

// shellQuote quotes s for a POSIX shell: inside single quotes nothing is
// special, and a single quote itself is closed, escaped and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
