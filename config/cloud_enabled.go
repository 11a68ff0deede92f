package config

import (
	"errors"

	"github.com/credchain/credchain/resolver"
)

// ErrCloudSourcesNotBuiltIn is wrapped by Build in a lean build (-tags
// credchain_lean, CloudSourcesBuiltIn false) when source bedrock or vertex
// is turned on: the full build has to serve the command.
var ErrCloudSourcesNotBuiltIn = errors.New("this credchain was built without the cloud sources (bedrock, vertex)")

// EnabledCloudSources returns the cloud sources in the chain that are turned
// on (bedrock by aws.enabled or a truthy $CLAUDE_CODE_USE_BEDROCK, vertex by
// gcp.enabled or a truthy $CLAUDE_CODE_USE_VERTEX, as the sources' own
// Probe decides), highest first. It needs no cloud SDK, so a lean build
// can tell when to hand a command over to the full one.
func (s *Settings) EnabledCloudSources() []string {
	var on []string
	for _, name := range s.chain {
		switch name {
		case SourceBedrock:
			if s.AWS.Enabled || resolver.Truthy(s.getenv(s.Variables.UseBedrock)) {
				on = append(on, name)
			}
		case SourceVertex:
			if s.GCP.Enabled || resolver.Truthy(s.getenv(s.Variables.UseVertex)) {
				on = append(on, name)
			}
		}
	}
	return on
}
