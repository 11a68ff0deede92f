package gcp

import (
	"context"
	"time"

	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source"
)

// Descriptor is source vertex: settings section gcp, turned on by a truthy
// $CLAUDE_CODE_USE_VERTEX (variables.use_vertex) or gcp.enabled.
func Descriptor() source.Descriptor {
	return source.Descriptor{
		Name:    Name,
		Order:   200,
		Section: "gcp",
		Settings: []source.Setting{
			{Key: "enabled", Default: false, Help: "use source vertex even without $CLAUDE_CODE_USE_VERTEX"},
			{Key: "project", Default: "", Help: "Google Cloud project (else from the credentials)"},
			{Key: "region", Default: "", Help: "Vertex AI region"},
			{Key: "credentials_file", Default: "", Help: "explicit credentials file (else Application Default Credentials)"},
			{Key: "token_url", Default: "", Check: source.HTTPURL, Help: "token endpoint override (authorized-user credentials)"},
			{Key: "scopes", Default: []string{DefaultScope}, Help: "OAuth scopes of the Google token"},
			{Key: "auth_refresh", Default: "", Alias: "gcpAuthRefresh", Help: "command run when getting a Google token fails (e.g. gcloud auth application-default login)"},
			{Key: "auth_refresh_timeout", Default: 3 * time.Minute, Check: source.Positive, Help: "time limit of auth_refresh"},
		},
		Variables: []source.Variable{
			{Key: "use_vertex", Name: EnvUseVertex, Help: "variable that, truthy, turns on source vertex"},
			{Key: "skip_vertex_auth", Name: EnvSkipVertexAuth, Help: "variable that, truthy, makes source vertex send no Google token (a proxy adds the credential)"},
		},
		Enabled: func(in source.Input) bool {
			var o Options
			return in.Decode(&o) == nil && (o.Enabled || resolver.Truthy(in.Getenv(in.Variable("use_vertex"))))
		},
		New: func(_ context.Context, in source.Input) (resolver.Source, error) {
			var o Options
			if err := in.Decode(&o); err != nil {
				return nil, err
			}
			o.Output, o.Getenv, o.EnableVariable = in.Output(), in.Getenv, in.Variable("use_vertex")
			o.SkipVariable, o.ScrubEnv = in.Variable("skip_vertex_auth"), in.SecretVariables()
			return New(o), nil
		},
	}
}
