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
		write: func(w io.Writer, cred *resolver.Credential, _ formatContext) error {
			f, ok := credentialEnv()[cred.Kind]
			if !ok {
				return fmt.Errorf("token: --format env: a credential of kind %s from %s cannot be passed in the environment", cred.Kind, cred.Source)
			}
			vars := f(cred)
			if len(vars) == 0 {
				return fmt.Errorf("token: --format env: the %s credential from %s is empty", cred.Kind, cred.Source)
			}
			var b strings.Builder
			for _, kv := range vars {
				name, value, _ := strings.Cut(kv, "=")
				b.WriteString("export " + name + "=" + shellQuote(value) + "\n")
			}
			_, err := io.WriteString(w, b.String())
			return err
		},
	}
}

// shellQuote quotes s for a POSIX shell: inside single quotes nothing is
// special, and a single quote itself is closed, escaped and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
