// Package apikey provides the credential sources that Claude Code reads from
// the environment — ANTHROPIC_AUTH_TOKEN (bearer), ANTHROPIC_API_KEY
// (x-api-key) and CLAUDE_CODE_OAUTH_TOKEN (bearer) — and the API-key helper:
// a shell command (the api_key_helper setting, Claude Code's apiKeyHelper)
// whose standard output is the key.
//
// None of these credentials is written to the store: an environment value is
// already where the user keeps it, and a helper's key is re-obtained by
// running the helper again.
package apikey

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/credchain/credchain/resolver"
)

// ErrInvalidValue is matched by the error returned for a value that cannot
// be sent in a header: control characters (a line break inside the key).
var ErrInvalidValue = errors.New("invalid credential value")

// Env is a credential taken from one environment variable. It implements
// resolver.Source, resolver.Prober and resolver.Describer. Surrounding
// whitespace is trimmed; a value that is unset or blank is not configured.
// The credential never expires.
type Env struct {
	name     string
	variable string
	kind     resolver.Kind
	getenv   func(string) string
	cached   atomic.Pointer[envValue]
}

// envValue remembers the credential built from one raw value, so repeated
// fetches of an unchanged variable return the same pointer.
type envValue struct {
	raw  string
	cred *resolver.Credential
}

// NewEnv returns a source named name that reads variable with getenv
// (usually os.Getenv) and yields a credential of the given kind.
func NewEnv(name, variable string, kind resolver.Kind, getenv func(string) string) *Env {
	return &Env{name: name, variable: variable, kind: kind, getenv: getenv}
}

// Name implements resolver.Source.
func (e *Env) Name() string { return e.name }

// Probe implements resolver.Prober.
func (e *Env) Probe() error {
	_, err := e.value()
	return err
}

// Describe implements resolver.Describer.
func (e *Env) Describe() map[string]string {
	return map[string]string{"variable": e.variable}
}

func (e *Env) value() (raw string, err error) {
	raw = e.getenv(e.variable)
	if raw == "" {
		return "", resolver.NotConfigured("%s is not set", e.variable)
	}
	if strings.TrimSpace(raw) == "" {
		return "", resolver.NotConfigured("%s is empty", e.variable)
	}
	return raw, nil
}

// Fetch implements resolver.Source. While the variable keeps its value it
// returns the same *Credential every time.
func (e *Env) Fetch(_ context.Context, _ *resolver.Credential) (*resolver.Credential, error) {
	raw, err := e.value()
	if err != nil {
		return nil, err
	}
	if c := e.cached.Load(); c != nil && c.raw == raw {
		return c.cred, nil
	}
	v := strings.TrimSpace(raw)
	if i := controlIndex(v); i >= 0 {
		return nil, &valueError{msg: "apikey: " + e.variable + " contains a control character at byte " + strconv.Itoa(i) +
			"; set it to the credential alone, on one line"}
	}
	c := &envValue{raw: raw, cred: &resolver.Credential{Kind: e.kind, Token: resolver.NewSecret(v), Source: e.name}}
	e.cached.Store(c)
	return c.cred, nil
}

// controlIndex returns the byte offset of the first control character or
// invalid UTF-8 sequence in s, or -1.
func controlIndex(s string) int {
	for i, r := range s {
		if r == unicode.ReplacementChar || unicode.IsControl(r) {
			return i
		}
	}
	return -1
}

type valueError struct{ msg string }

func (e *valueError) Error() string        { return e.msg }
func (e *valueError) Is(target error) bool { return target == ErrInvalidValue }
