//go:build credchain_lean

package config

import (
	"context"
	"fmt"
	"slices"

	"github.com/credchain/credchain/resolver"
)

// CloudSourcesBuiltIn reports whether this build has the bedrock and vertex
// sources. This lean build (-tags credchain_lean) leaves them and the AWS
// and Google SDKs out, so their package initialisation is not paid by every
// run (see docs/performance.md, Start-up).
const CloudSourcesBuiltIn = false

// newCloudSource stands in for bedrock or vertex: a source that is turned
// off reports why, as the real one would; one that is turned on is an
// error wrapping ErrCloudSourcesNotBuiltIn.
func (s *Settings) newCloudSource(_ context.Context, name string, _ *resolver.Config) (resolver.Source, error) {
	if slices.Contains(s.EnabledCloudSources(), name) {
		return nil, fmt.Errorf("config: source %s is turned on: %w; use the full build (credchain-cloud)", name, ErrCloudSourcesNotBuiltIn)
	}
	variable := s.Variables.UseBedrock
	if name == SourceVertex {
		variable = s.Variables.UseVertex
	}
	return offCloudSource{name: name, variable: variable}, nil
}

// offCloudSource is a cloud source that is turned off.
type offCloudSource struct{ name, variable string }

func (o offCloudSource) Name() string { return o.name }

func (o offCloudSource) Probe() error {
	return resolver.NotConfigured("%s is not set", o.variable)
}

func (o offCloudSource) Fetch(context.Context, *resolver.Credential) (*resolver.Credential, error) {
	return nil, o.Probe()
}
