package config

import (
	"errors"
	"strings"
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
			if s.AWS.Enabled || switchedOn(s.getenv(s.Variables.UseBedrock)) {
				on = append(on, name)
			}
		case SourceVertex:
			if s.GCP.Enabled || switchedOn(s.getenv(s.Variables.UseVertex)) {
				on = append(on, name)
			}
		}
	}
	return on
}

// switchedOn is the sources' reading of an enabling variable: 1, true, yes
// or on, in any case.
func switchedOn(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}
