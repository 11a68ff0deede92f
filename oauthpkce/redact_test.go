package oauthpkce

import (
	"errors"
	"strings"
	"testing"
)

// TestRedactErr: an error whose text holds no secret (and needs no
// cleaning) is returned as it is; one that holds a secret gets the redacted
// text and still unwraps to itself, so errors.Is sees its whole chain.
func TestRedactErr(t *testing.T) {
	cause := errors.New("connection reset")
	plain := &wrapped{msg: "dial tcp: connection reset", err: cause}
	if got := redactErr(plain, "s3cret"); got != error(plain) {
		t.Errorf("redactErr of an error without the secret = %#v; want the error itself", got)
	}
	leaky := &wrapped{msg: "dial tcp: token s3cret: connection reset", err: cause}
	got := redactErr(leaky, "s3cret")
	if got.Error() != "dial tcp: token [redacted]: connection reset" {
		t.Errorf("redacted text %q", got.Error())
	}
	if !errors.Is(got, cause) || errors.Unwrap(got) != error(leaky) {
		t.Errorf("redactErr(%v) = %#v; want it to unwrap to the error and its cause", leaky, got)
	}
	if e := (&wrapped{msg: strings.Repeat("x", 200), err: cause}); redactErr(e) != error(e) {
		t.Errorf("redactErr of a 200-character text changed it to %q", redactErr(e).Error())
	}
	long := &wrapped{msg: strings.Repeat("x", 201), err: cause}
	if got := redactErr(long); got.Error() != strings.Repeat("x", 200)+"…" || !errors.Is(got, cause) {
		t.Errorf("redactErr of a 201-character text = %q; want it cut at 200, keeping the cause", got.Error())
	}
}

type wrapped struct {
	msg string
	err error
}

func (e *wrapped) Error() string { return e.msg }
func (e *wrapped) Unwrap() error { return e.err }
