package resolver

import (
	"context"
	"strings"
)

// Source produces credentials of one kind from one place.
type Source interface {
	// Name is stable; it is the store key and what status shows.
	Name() string
	// Fetch returns a new credential. prev is the last known credential of
	// this source (from memory or the store, possibly expired, possibly one
	// the API rejected), so a refresh-token source can refresh; it is nil the
	// first time. A source that does not apply returns an error wrapping
	// ErrNotConfigured; any other error means "configured but failed" and
	// stops the chain. Errors must never contain a secret.
	Fetch(ctx context.Context, prev *Credential) (*Credential, error)
}

// Prober is implemented by sources that can tell cheaply, without I/O beyond
// reading the environment, whether they apply. The chain calls Probe before
// Fetch and status uses it for every source. It returns nil when configured
// and an error wrapping ErrNotConfigured otherwise.
type Prober interface {
	Probe() error
}

// Persistent is implemented by sources whose credentials are kept in the
// shared store (OAuth logins, temporary cloud credentials). The resolver
// prefetches their records at start-up and wraps every Fetch in the store's
// cross-process lock with a re-read, so concurrent processes refresh once.
// Secrets read from a file descriptor or the environment are never stored.
type Persistent interface {
	Persistent() bool
}

// Revoker is implemented by sources that can revoke what they issued; logout
// calls it before deleting the stored record.
type Revoker interface {
	Revoke(ctx context.Context, cred *Credential) error
}

// Describer is implemented by sources that have non-secret facts to show in
// status (project, region, endpoints) even before a credential exists.
type Describer interface {
	Describe() map[string]string
}

// RecordNoter is implemented by a source's error (wrapping ErrLoginRequired)
// that carries non-secret facts to keep in the stored record when the
// refused refresh token is dropped, so later runs can say when and why it
// went (the provider's error code, the time).
type RecordNoter interface {
	RecordMeta() map[string]string
}

// Truthy reports whether an environment value means "on", as Claude Code
// reads CLAUDE_CODE_USE_BEDROCK and its kin: 1, true, yes or on, in any case.
func Truthy(v string) bool {
	on, _ := ParseBool(v)
	return on
}

// ProbeSwitch is the Probe of a source turned on by a setting (enabled) or
// by a truthy environment variable such as CLAUDE_CODE_USE_BEDROCK: nil
// when on, else a NotConfigured error naming the variable.
func ProbeSwitch(enabled bool, getenv func(string) string, variable string) error {
	if enabled || Truthy(getenv(variable)) {
		return nil
	}
	return NotConfigured("%s is not set", variable)
}

// ParseBool is the one reader of on/off values in credchain (switch
// variables, boolean settings, CI): 1, true, yes, on mean true; 0, false,
// no, off mean false; any case, surrounding space ignored. ok is false for
// anything else, including "".
func ParseBool(v string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true, true
	case "0", "false", "no", "off":
		return false, true
	}
	return false, false
}

// EnvExporter is implemented by sources whose credential reaches a child
// process in the variables its own SDK reads (ANTHROPIC_FOUNDRY_API_KEY,
// ANTHROPIC_AWS_API_KEY, ...) rather than the kind's defaults
// (ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN, AWS_ACCESS_KEY_ID, ...).
// ChildEnv returns NAME=value pairs, or nil to use the kind's defaults.
type EnvExporter interface {
	ChildEnv(cred *Credential) []string
}
