package oauthpkce

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/oauth2"

	"github.com/credchain/credchain/resolver"
)

// Sentinel errors of the login flow, for callers that branch on them.
var (
	// ErrLoginTimeout: nobody completed the login within the timeout.
	ErrLoginTimeout = errors.New("login timed out")
	// ErrStateMismatch: a callback or pasted code carried another state
	// (a stale tab, or a forged request); it is refused and the flow keeps
	// waiting.
	ErrStateMismatch = errors.New("state mismatch")
	// ErrPortInUse: the configured loopback callback port is taken.
	ErrPortInUse = errors.New("callback port in use")
	// ErrNonInteractive: a login needs a person, and this run cannot reach
	// one (--non-interactive, CI set, or no terminal and no $BROWSER).
	ErrNonInteractive = errors.New("login needs a person at a browser, and this run is non-interactive")
	// ErrIssuerMismatch: the authorization response's iss (RFC 9207) is
	// missing where the provider advertises it, or names another issuer
	// (a mix-up attack, or a redirect from another provider's login).
	ErrIssuerMismatch = errors.New("authorization response from the wrong issuer")
	// ErrIDTokenInvalid: the ID token of a login does not belong to it
	// (nonce, issuer or audience differ, or it has expired).
	ErrIDTokenInvalid = errors.New("the ID token does not match this login")
	// ErrClientRejected: the provider refused the authorization request
	// before anyone logged in (unknown client, unregistered redirect URI):
	// the settings are wrong.
	ErrClientRejected = errors.New("the provider refused the authorization request")
	// ErrDeviceExpired: nobody approved a device login before its user
	// code expired (RFC 8628 expired_token).
	ErrDeviceExpired = errors.New("the device code expired")
	// ErrNoDeviceEndpoint: --device was asked for, and the provider has no
	// device authorization endpoint.
	ErrNoDeviceEndpoint = errors.New("the provider has no device authorization endpoint")
)

// AuthorizeError is the provider's error redirect (RFC 6749 §4.1.2.1), e.g.
// access_denied when the person declined.
type AuthorizeError struct {
	Code        string
	Description string
}

func (e *AuthorizeError) Error() string {
	s := "the provider refused the login: " + e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// TokenError is a failed call to the token endpoint. It wraps
// resolver.ErrLoginRequired when the refresh token was refused, and
// implements resolver.RetryAfter when the server sent Retry-After.
type TokenError struct {
	// Op is "refresh", "code exchange" or "token response".
	Op       string
	Endpoint string
	// Status is the HTTP status (0 when no response came).
	Status int
	// Code and Description are RFC 6749 §5.2 error and error_description.
	Code        string
	Description string
	// Temporary is true for failures worth retrying (5xx, 429, network).
	Temporary bool
	// Retry is the server's Retry-After.
	Retry time.Duration
	// Err is the cause: resolver.ErrLoginRequired or a network error.
	Err error
	// At is when the answer came.
	At time.Time
}

// RecordMeta implements resolver.RecordNoter: when the refresh token was
// refused, the record keeps when and how, so later runs can say why the
// login has no refresh token.
func (e *TokenError) RecordMeta() map[string]string {
	if !errors.Is(e.Err, resolver.ErrLoginRequired) {
		return nil
	}
	what := e.At.UTC().Format(time.RFC3339)
	if e.Status != 0 {
		what += fmt.Sprintf(" (HTTP %d", e.Status)
		if e.Code != "" {
			what += " " + e.Code
		}
		if e.Description != "" {
			what += ": " + e.Description
		}
		what += ")"
	}
	return map[string]string{
		MetaRefreshRefused: what,
		MetaRefresh:        "refresh token refused by the provider at " + e.At.UTC().Format(time.RFC3339) + "; login required once the access token expires",
	}
}

func (e *TokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s at token endpoint %s", e.Op, e.Endpoint)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	switch {
	case errors.Is(e.Err, resolver.ErrLoginRequired):
		b.WriteString("; the refresh token was refused, run credchain login")
	case e.Err != nil:
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Retry > 0 {
		fmt.Fprintf(&b, " (retry after %v)", e.Retry)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *TokenError) Unwrap() error { return e.Err }

// RetryAfter implements resolver.RetryAfter.
func (e *TokenError) RetryAfter() time.Duration { return e.Retry }

// loginRequiredCodes are the refresh-grant errors that mean "log in again".
// Dex answers a reused or expired refresh token with invalid_request rather
// than RFC 6749's invalid_grant.
var loginRequiredCodes = map[string]bool{"invalid_grant": true, "invalid_request": true}

// classify turns an error from golang.org/x/oauth2 into a TokenError without
// ever quoting the response body (it may echo a secret).
func classify(op, endpoint string, err error, rec *responseRecorder, secrets ...string) error {
	te := &TokenError{Op: op, Endpoint: endpoint, At: time.Now()}
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		if re.Response != nil {
			te.Status = re.Response.StatusCode
			te.Retry = parseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now())
		}
		te.Code = sanitize(re.ErrorCode, secrets...)
		te.Description = sanitize(re.ErrorDescription, secrets...)
		switch {
		case te.Status == http.StatusTooManyRequests || te.Status >= 500:
			te.Temporary = true
		case op == "refresh" && loginRequiredCodes[re.ErrorCode]:
			te.Err = resolver.ErrLoginRequired
		case te.Code == "" && te.Status >= 200 && te.Status < 300:
			te.Description = "the response is not a token response"
		}
		if te.Code == "" && te.Description == "" {
			rec.mu.Lock()
			ct := rec.contentType
			rec.mu.Unlock()
			te.Description = fmt.Sprintf("unexpected answer (content type %q)", sanitize(ct))
		}
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		te.Temporary = true
		te.Err = errors.New("no answer in time")
	case isNetwork(err):
		te.Temporary = true
		te.Err = redactErr(err, secrets...)
	default:
		// A successful status with a body that is not a token response:
		// golang.org/x/oauth2 reports only the parse failure.
		rec.mu.Lock()
		code, ct, ra := rec.code, rec.contentType, rec.retryAfter
		rec.mu.Unlock()
		te.Status = code
		if code == 0 {
			te.Err = redactErr(err, secrets...)
			break
		}
		if code == http.StatusTooManyRequests || code >= 500 {
			te.Temporary = true
			te.Retry = parseRetryAfter(ra, time.Now())
		}
		te.Description = fmt.Sprintf("the response is not a valid token response (content type %q)", sanitize(ct))
	}
	return te
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isNetwork(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe)
}

// parseRetryAfter reads delay-seconds or an HTTP date; at most one hour is
// honoured, so a broken header cannot park the refresh forever.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), time.Hour)
}

// sanitize makes a provider-supplied string safe to put in an error: no
// control characters, at most 200 runes, and none of the given secrets.
func sanitize(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return strings.TrimSpace(s)
}

// redactErr keeps an error's chain (for errors.Is) but removes secrets from
// its text.
func redactErr(err error, secrets ...string) error {
	msg := err.Error()
	clean := sanitize(msg, secrets...)
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
