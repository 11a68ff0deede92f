package main

import (
	"errors"
	"fmt"

	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/resolver"
)

// Exit codes; documented in the root command's help and docs/cli.md.
const (
	exitOK            = 0
	exitError         = 1
	exitUsage         = 2
	exitNoSource      = 3
	exitLoginRequired = 4
	exitNotFound      = 127 // exec: the command was not found
)

// usageError is a bad flag, argument or command.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// exitStatus ends credchain with a code and no message of its own (the
// status of a child of credchain exec; or a failure already reported).
type exitStatus struct {
	code int
	msg  string // printed as "credchain: msg" when not empty
}

func (e *exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// shownError carries the error that decides the exit code, with a shorter
// message to print (status has already shown the details).
type shownError struct {
	err error
	msg string
}

func (e *shownError) Error() string { return e.msg }
func (e *shownError) Unwrap() error { return e.err }

// exitCode maps an error to credchain's exit code.
func exitCode(err error) int {
	var st *exitStatus
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &st):
		return st.code
	case errors.Is(err, resolver.ErrStoreRead):
		// Never "not logged in" (3) or "login required" (4): the record is
		// there, and logging in would overwrite it.
		return exitError
	case errors.Is(err, resolver.ErrLoginRequired):
		return exitLoginRequired
	case errors.Is(err, resolver.ErrNoSource):
		return exitNoSource
	case errors.Is(err, config.ErrInvalid):
		return exitUsage
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

// errorMessage is what credchain prints for err on stderr, or "" for none.
func errorMessage(err error) string {
	var st *exitStatus
	if errors.As(err, &st) {
		return st.msg
	}
	return err.Error()
}
