// Package source is how a credential source describes itself to the
// composition root (package config): its name, its place in the default
// chain, its settings and their defaults, the environment variables it reads
// (and which of them a child process must not inherit), whether it is turned
// on, how it is built, and the signer its kind of credential needs.
//
// A source package exports a function returning its Descriptor; a program
// hands config the descriptors of the sources it links (package source/all
// has every one), so an embedder links only the sources — and the SDKs —
// it imports. Adding a source is one package plus one line where the
// program lists its descriptors.
//
// This package imports only resolver and the standard library.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/credchain/credchain/resolver"
)

// Descriptor describes one credential source. Name and New are required.
type Descriptor struct {
	// Name is the source's name: its chain entry, its store key, what status
	// shows. Unique among the descriptors a program hands to config.
	Name string
	// Order is the source's place in the default chain: lower comes first
	// (higher priority). The chain setting overrides it. See the table of
	// the built-in sources' values in DESIGN (bedrock 100 ... oauth 420).
	Order int
	// Section is the settings section of Settings ("aws" for keys aws.*),
	// or "" when the keys are top-level (api_key_helper). Two descriptors
	// may share a section and even a key, if they declare it alike.
	Section string
	// Settings are the keys this source reads, relative to Section.
	Settings []Setting
	// Variables are the environment variables this source reads.
	Variables []Variable
	// Enabled, when set, reports cheaply (reading settings and the
	// environment only, no I/O) whether the source is turned on. It agrees
	// with the built source's Probe; config uses it to tell which sources
	// apply without building them.
	Enabled func(in Input) bool
	// New builds the source from its settings. It must do no I/O (files,
	// network, commands): that is Fetch's job. An error is a bad setting.
	New func(ctx context.Context, in Input) (resolver.Source, error)
	// Signer, when set, returns the signer of requests carrying this
	// source's credentials of kind SignerKind (resolver.Config.Signers);
	// config registers it when the source is in the chain. Two sources may
	// bring signers for the same kind (SigV4 for different services): each
	// request is signed by the signer of the source its credential came
	// from.
	Signer     func() resolver.Signer
	SignerKind resolver.Kind
}

// Setting is one settings key of a source.
type Setting struct {
	// Key is the key inside the descriptor's section, in snake_case
	// ("auth_refresh_timeout"); the full key is "section.key", its
	// environment variable CREDCHAIN_SECTION_KEY. Input.Decode fills the
	// struct field tagged `mapstructure:"<Key>"`.
	Key string
	// Default is the value when no layer sets the key. Its Go type is the
	// key's type and must be one of string, bool, int, time.Duration,
	// []string or map[string]string (use a typed zero value, e.g.
	// []string(nil), when there is no default).
	Default any
	// Alias is the Claude Code settings.json name accepted at the top level
	// of a settings file (e.g. "awsAuthRefresh").
	Alias string
	// Help is one line for docs/configuration.md and error messages.
	Help string
	// Secret marks a setting whose value may carry a secret (people write
	// keys into helper commands): its CREDCHAIN_ variable is removed from
	// the environment of the children credchain starts with a credential.
	Secret bool
	// Check, when set, validates the decoded value (of Default's type). A
	// *NotAllowedError lists the allowed values in the error.
	Check func(v any) error
	// FromVariable, when set, is the Key of one of the descriptor's
	// Variables: when no layer sets this setting, a non-empty value of that
	// variable does, parsed by ParseVariable (or read as the setting's type
	// when nil). Claude Code's CLAUDE_CODE_API_KEY_HELPER_TTL_MS works so.
	FromVariable  string
	ParseVariable func(string) (any, error)
}

// Variable is an environment variable a source reads.
type Variable struct {
	// Key, when set, makes the variable's name a setting: variables.<Key>
	// (CREDCHAIN_VARIABLES_<KEY>), read back with Input.Variable(Key). Empty
	// means the name is fixed (Name).
	Key string
	// Name is the variable's default name (e.g. "ANTHROPIC_API_KEY").
	Name string
	// Secret marks a variable that carries a credential or points at one
	// (a descriptor number): credchain removes it from the environment of
	// every child it starts with a credential (exec, exec --serve), so the
	// child sees only the credential credchain resolved.
	Secret bool
	// Help is one line for docs/configuration.md.
	Help string
}

// Input is what a source is built from: its settings and the environment,
// as config loaded them.
type Input interface {
	// Decode fills into (a pointer to a struct) with the source's settings:
	// each Setting's value, defaults included, goes to the field tagged
	// `mapstructure:"<Key>"`.
	Decode(into any) error
	// Variable returns the configured name of the variable declared with
	// Key (its default Name unless variables.<Key> renames it).
	Variable(key string) string
	// Getenv reads the environment the settings were loaded with.
	Getenv(name string) string
	// Interactive reports whether credchain may use the terminal.
	Interactive() bool
	// Output is where commands the source runs for the person (a refresh
	// command) show their output; nil when not interactive (capture it and
	// put it in the error instead).
	Output() io.Writer
	// SecretVariables names the variables a command the source runs for
	// the person (a helper, a refresh or export command) must not inherit:
	// every variable a source declares Secret, under its configured and
	// default names, the CREDCHAIN_ variables of Secret settings, and the
	// encrypted store's password. The same list is removed from the
	// children of credchain exec, so a child never sees credchain's own
	// secrets. Pass it to the command's scrub list.
	SecretVariables() []string
}

// NotAllowedError is returned by a Check when the value is not one of a
// small set; config shows the set in its error.
type NotAllowedError struct {
	Msg     string
	Allowed []string
}

func (e *NotAllowedError) Error() string {
	return e.Msg + "; allowed: " + strings.Join(e.Allowed, ", ")
}

// OneOf is a Check for a string setting with a fixed set of values.
func OneOf(allowed ...string) func(any) error {
	return func(v any) error {
		s, _ := v.(string)
		if !slices.Contains(allowed, s) {
			return &NotAllowedError{Msg: fmt.Sprintf("%s is not allowed", QuoteValue(s)), Allowed: allowed}
		}
		return nil
	}
}

// Positive is a Check for a duration that must be greater than zero.
func Positive(v any) error {
	if d, _ := v.(time.Duration); d <= 0 {
		return errors.New("must be greater than zero")
	}
	return nil
}

// HTTPURL is a Check for an optional absolute http(s) URL.
func HTTPURL(v any) error {
	s, _ := v.(string)
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}

// Port is a Check for a TCP port, 0 meaning an ephemeral one.
func Port(v any) error {
	if p, _ := v.(int); p < 0 || p > 65535 {
		return fmt.Errorf("port %d is out of range (0 for an ephemeral port, else 1-65535)", p)
	}
	return nil
}

var varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// VariableName is the Check of every variables.* setting.
func VariableName(v any) error {
	s, _ := v.(string)
	if !varNameRE.MatchString(s) {
		return fmt.Errorf("%s is not an environment variable name (letters, digits and _, not starting with a digit)", QuoteValue(s))
	}
	return nil
}

// QuoteValue shows a bad value in an error message. A long value is shown
// only by its length and last 4 characters: it may be a secret written into
// the wrong setting, and an error must never carry a secret.
func QuoteValue(s string) string {
	if len(s) < 16 {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("a %d-character value ending in %q", len(s), s[len(s)-4:])
}
