// Package fdsource reads a secret once from a file descriptor the process
// inherited, as Claude Code does for CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR and
// CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR:
//
//	CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR=3 app 3<token-file
//
// The descriptor itself is read (never re-opened through /proc/self/fd/N,
// which fails for sockets), at most 64 KiB, once per process: a pipe can be
// drained only once, so the value — or the failure — is remembered for the
// life of the Source, and the descriptor is closed after the read. One
// trailing newline is trimmed; an empty value or one with control characters
// is refused. The secret is never written to the store (Source does not
// implement resolver.Persistent).
package fdsource

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/credchain/credchain/resolver"
)

// MaxSize is the most a descriptor may hold. Reading one byte more fails
// with ErrTooLarge, so a descriptor that was meant to carry a token but
// streams something else is not slurped whole.
const MaxSize = 64 << 10

// Sentinel errors, matched with errors.Is, for what a caller may branch on.
// Every error a Source returns also names its variable and the fix.
var (
	// ErrNotANumber: the variable does not hold a decimal descriptor number.
	ErrNotANumber = errors.New("not a file descriptor number")
	// ErrNotOpen: the descriptor is not open in this process (EBADF).
	ErrNotOpen = errors.New("file descriptor is not open")
	// ErrNotReadable: the descriptor is open but is not a file, pipe,
	// socket or character device, or reading it failed.
	ErrNotReadable = errors.New("file descriptor cannot be read")
	// ErrEmpty: the descriptor held nothing (or only a newline).
	ErrEmpty = errors.New("file descriptor held no secret")
	// ErrTooLarge: the descriptor held more than MaxSize bytes.
	ErrTooLarge = errors.New("file descriptor held more than 64 KiB")
	// ErrControlCharacters: the secret contains control characters or is
	// not valid UTF-8, so it cannot be sent in a header.
	ErrControlCharacters = errors.New("secret contains control characters")
	// ErrUnsupported: file-descriptor sources do not work on this system.
	ErrUnsupported = errors.New("file-descriptor sources are not supported on this system")
)

// Source is a credential read from an inherited file descriptor. It
// implements resolver.Source, resolver.Prober and resolver.Describer. Create
// one per process and keep it: the descriptor can be read only once.
type Source struct {
	name     string
	variable string
	kind     resolver.Kind
	getenv   func(string) string

	once    sync.Once
	started atomic.Bool   // the read has begun; the variable no longer matters
	done    chan struct{} // closed when cred/err are set
	cred    *resolver.Credential
	err     error
}

// New returns a source named name that reads the descriptor whose number
// the environment variable variable holds (looked up with getenv, usually
// os.Getenv) and yields a credential of the given kind.
//
// New marks that descriptor close-on-exec (when it is 3 or higher): until
// it is read it still holds the secret, and a child this process starts
// meanwhile — an api_key_helper when a higher source wins, the command of
// `credchain exec` — must not inherit it.
func New(name, variable string, kind resolver.Kind, getenv func(string) string) *Source {
	s := &Source{name: name, variable: variable, kind: kind, getenv: getenv, done: make(chan struct{})}
	if fd, err := strconv.Atoi(getenv(variable)); err == nil && fd > 2 {
		closeOnExec(fd)
	}
	return s
}

// Name implements resolver.Source.
func (s *Source) Name() string { return s.name }

// Probe implements resolver.Prober: the source applies when its variable is
// set. A value that is not a descriptor number makes it configured but
// failing, with ErrNotANumber.
func (s *Source) Probe() error {
	if s.started.Load() {
		return nil
	}
	v := s.getenv(s.variable)
	if v == "" {
		return resolver.NotConfigured("%s is not set", s.variable)
	}
	_, err := s.parse(v)
	return err
}

// Describe implements resolver.Describer with the variable and the
// descriptor number (never the secret).
func (s *Source) Describe() map[string]string {
	m := map[string]string{"variable": s.variable}
	if v := s.getenv(s.variable); v != "" {
		if _, err := s.parse(v); err == nil {
			m["descriptor"] = v
		}
	}
	return m
}

// Fetch implements resolver.Source. The first call reads and closes the
// descriptor; every later call, also with prev set after the API refused the
// secret, returns the same credential or the same error: there is nothing
// newer to read. Once the read has begun the variable is not looked at
// again, so a program may unset it to keep it from its children.
//
// A read that blocks (a pipe whose writer has not closed it) holds the
// caller only as long as ctx allows; the read itself goes on and a later
// Fetch collects it.
func (s *Source) Fetch(ctx context.Context, _ *resolver.Credential) (*resolver.Credential, error) {
	if !s.started.Load() {
		v := s.getenv(s.variable)
		if v == "" {
			return nil, resolver.NotConfigured("%s is not set", s.variable)
		}
		s.start(v)
	}
	select {
	case <-s.done: // a finished read wins over a cancelled context
		return s.cred, s.err
	default:
	}
	select {
	case <-s.done:
		return s.cred, s.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// start begins the one read, from the descriptor named by v.
func (s *Source) start(v string) {
	s.once.Do(func() {
		s.started.Store(true)
		go func() {
			s.cred, s.err = s.load(v)
			close(s.done)
		}()
	})
}

// load reads the descriptor named by v and builds the credential.
func (s *Source) load(v string) (*resolver.Credential, error) {
	fd, err := s.parse(v)
	if err != nil {
		return nil, err
	}
	data, err := s.read(fd)
	if err != nil {
		return nil, err
	}
	secret, err := s.check(fd, data)
	if err != nil {
		return nil, err
	}
	return &resolver.Credential{
		Kind:   s.kind,
		Token:  resolver.NewSecret(secret),
		Source: s.name,
		Meta:   map[string]string{"variable": s.variable, "descriptor": strconv.Itoa(fd)},
	}, nil
}

// parse never echoes a malformed value: a user who put the secret itself
// into the variable must not see it printed back.
func (s *Source) parse(v string) (int, error) {
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 0 {
		return 0, s.fail(ErrNotANumber, nil,
			"the value is not a decimal file descriptor number",
			"set it to the number of a descriptor the program inherits, e.g. "+s.variable+"=3 app 3<secret-file (put the secret itself in the descriptor, not in the variable)")
	}
	return fd, nil
}

// check trims one trailing newline and refuses what cannot be a header
// value.
func (s *Source) check(fd int, data []byte) (string, error) {
	switch {
	case len(data) >= 2 && data[len(data)-2] == '\r' && data[len(data)-1] == '\n':
		data = data[:len(data)-2]
	case len(data) >= 1 && data[len(data)-1] == '\n':
		data = data[:len(data)-1]
	}
	if len(data) == 0 {
		return "", s.fail(ErrEmpty, nil,
			"descriptor "+strconv.Itoa(fd)+" held nothing",
			"write the secret into the descriptor before starting the program, e.g. printf '%s' \"$TOKEN\" | "+s.variable+"=0 app, and check that the secret was not empty")
	}
	if !utf8.Valid(data) {
		return "", s.fail(ErrControlCharacters, nil,
			"descriptor "+strconv.Itoa(fd)+" held bytes that are not valid UTF-8",
			"write only the secret, as text, followed by at most one newline")
	}
	for i, r := range string(data) {
		if unicode.IsControl(r) {
			return "", s.fail(ErrControlCharacters, nil,
				"the secret read from descriptor "+strconv.Itoa(fd)+" contains a control character at byte "+strconv.Itoa(i),
				"write only the secret, followed by at most one newline (no blank lines, tabs or carriage returns)")
		}
	}
	return string(data), nil
}

// fdError names the variable and the fix, matches its sentinel and wraps
// the system error, if any.
type fdError struct {
	variable string
	sentinel error
	cause    error
	detail   string
	fix      string
}

func (s *Source) fail(sentinel, cause error, detail, fix string) error {
	return &fdError{variable: s.variable, sentinel: sentinel, cause: cause, detail: detail, fix: fix}
}

func (e *fdError) Error() string {
	msg := "fdsource: " + e.variable + ": " + e.sentinel.Error() + ": " + e.detail
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg + "; " + e.fix
}

func (e *fdError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.sentinel}
	}
	return []error{e.sentinel, e.cause}
}
