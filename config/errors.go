package config

import (
	"errors"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every error about a bad setting: an
// unknown key, a wrong type, a bad value, an unreadable or missing explicit
// settings file. The CLI maps it to exit code 2 (usage).
var ErrInvalid = errors.New("config: invalid settings")

// Error is one bad setting. Origin is where the value came from: the
// settings file's path, an environment variable ($NAME) or a flag (--name).
type Error struct {
	Origin  string
	Key     string // e.g. "store.backend", "chain[3]"
	Msg     string
	Allowed []string // what would have been accepted, if the set is small
}

// Error formats "origin: key: message; allowed: a, b".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Origin != "" {
		b.WriteString(e.Origin)
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if len(e.Allowed) > 0 {
		b.WriteString("; allowed: ")
		b.WriteString(strings.Join(e.Allowed, ", "))
	}
	return b.String()
}

// Is matches ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }
