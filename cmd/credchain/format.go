package main

import (
	"io"

	"github.com/credchain/credchain/resolver"
)

// tokenFormat is one output format of credchain token.
type tokenFormat struct {
	name  string
	help  string
	write func(w io.Writer, cred *resolver.Credential, fc formatContext) error
}

// formatContext is what a format may read besides the credential (a
// protocol's request in the environment, e.g. KUBERNETES_EXEC_INFO).
type formatContext struct {
	Getenv func(string) string
	// Exporter is the credential's source when it names the variables a
	// child reads (format env); nil otherwise.
	Exporter resolver.EnvExporter
}

// tokenFormats lists the formats of credchain token, the default first. To
// add one, write it in its own file (format_<name>.go) and list it here.
func tokenFormats() []tokenFormat {
	return []tokenFormat{
		textFormat(),
		jsonFormat(),
		credentialProcessFormat(),
		execCredentialFormat(),
		headerFormat(),
		envFormat(),
	}
}

func findFormat(formats []tokenFormat, name string) (tokenFormat, bool) {
	for _, f := range formats {
		if f.name == name {
			return f, true
		}
	}
	return tokenFormat{}, false
}
