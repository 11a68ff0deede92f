package apikey

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/credchain/credchain/internal/runner"
	"github.com/credchain/credchain/resolver"
)

// Defaults of HelperOptions, as in Claude Code.
const (
	DefaultHelperName = "api-key-helper"
	DefaultTTL        = 5 * time.Minute
	DefaultTimeout    = 10 * time.Minute
)

// MaxHelperOutput bounds what is read from the helper's standard output; a
// helper printing more is not printing a key.
const MaxHelperOutput = 64 << 10

// stderrTail is how much of the end of the helper's standard error goes
// into an error.
const stderrTail = 4 << 10

// waitDelay bounds how long, after the helper's shell has exited or been
// killed, its output pipes may be held open by a process it left behind
// (which is then killed).
const waitDelay = 5 * time.Second

// Sentinel errors of the helper, matched with errors.Is.
var (
	// ErrHelperFailed: the command could not be started, exited with a
	// non-zero status or was killed by a signal. The error carries the end
	// of its standard error.
	ErrHelperFailed = errors.New("api key helper failed")
	// ErrHelperTimeout: the command ran longer than its timeout and was
	// killed with its whole process group.
	ErrHelperTimeout = errors.New("api key helper timed out")
	// ErrHelperEmpty: the command succeeded but printed nothing.
	ErrHelperEmpty = errors.New("api key helper printed nothing")
	// ErrHelperOutput: the command printed something that is not a key
	// (more than MaxHelperOutput bytes, several lines, control characters).
	ErrHelperOutput = errors.New("api key helper printed an invalid key")
)

// helperSetting names the setting in messages, with Claude Code's alias, so
// a user of either recognises it.
const helperSetting = "api_key_helper (apiKeyHelper)"

// HelperOptions configures an API-key helper.
type HelperOptions struct {
	// Name is the source name (DefaultHelperName when empty).
	Name string
	// Command is run with /bin/sh -c (cmd.exe /d /s /c on Windows; see
	// internal/runner); its standard output, trimmed, is the key. Empty
	// means the source is not configured.
	Command string
	// TTL is how long a key is used before the helper is run again in the
	// background while the old key is still served (DefaultTTL when zero;
	// see ParseTTLms for CLAUDE_CODE_API_KEY_HELPER_TTL_MS).
	TTL time.Duration
	// Timeout bounds one run (DefaultTimeout when zero; the
	// api_key_helper_timeout setting).
	Timeout time.Duration
	// Dir is the command's working directory; empty means the current one.
	Dir string
	// Env is the command's environment; nil inherits os.Environ(). Either
	// way credchain's own secrets (runner.ScrubbedEnv) and ScrubEnv are
	// removed from it.
	Env []string
	// ScrubEnv names more variables to remove from the command's
	// environment: secret-bearing variables the helper has no use for.
	ScrubEnv []string
	// Now is the clock for the key's refresh time (time.Now when nil). Pass
	// the resolver's clock when it is not the system clock.
	Now func() time.Time
}

// Helper is the API-key helper source. It implements resolver.Source,
// resolver.Prober and resolver.Describer.
//
// Each Fetch runs the command once. The key it returns has no expiry and a
// RefreshAt TTL later, so the resolver serves it until then, then keeps
// serving it while one background re-run obtains the next; a re-run that
// fails leaves the last good key in use (the resolver retries with backoff).
// After the API refuses the key (HTTP 401 through resolver.Transport), the
// resolver calls Fetch again at once with the refused key as prev.
//
// The command runs through internal/runner. The key is never placed in any
// command's arguments or environment, the command's environment has none of
// credchain's own secrets (CREDCHAIN_FILE_PASSWORD, CREDCHAIN_API_KEY_HELPER,
// HelperOptions.ScrubEnv), and error messages carry the end of the
// command's standard error with the previous and the printed key, and the
// scrubbed variables' values, redacted.
//
// On Unix the command runs in a process group of its own, so a timeout ends
// everything it started. Its standard input is empty and, being outside the
// terminal's foreground group, it cannot prompt on the terminal (a read
// would stop it until the timeout): a helper that needs a person must go
// through an agent (gpg-agent, a password manager's desktop integration).
type Helper struct {
	opts HelperOptions
}

// NewHelper returns a helper source with the defaults filled in.
func NewHelper(opts HelperOptions) *Helper {
	if opts.Name == "" {
		opts.Name = DefaultHelperName
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Helper{opts: opts}
}

// Name implements resolver.Source.
func (h *Helper) Name() string { return h.opts.Name }

// Probe implements resolver.Prober: the helper applies when a command is
// set.
func (h *Helper) Probe() error {
	if strings.TrimSpace(h.opts.Command) == "" {
		return resolver.NotConfigured("%s is not set", helperSetting)
	}
	return nil
}

// Describe implements resolver.Describer. The command itself is not shown:
// people do write keys into it.
func (h *Helper) Describe() map[string]string {
	return map[string]string{"ttl": h.opts.TTL.String(), "timeout": h.opts.Timeout.String()}
}

// Fetch implements resolver.Source: it runs the command once. prev, when
// set, is the key in use (a re-run after the TTL or after a 401); it is only
// used to scrub it from error messages.
func (h *Helper) Fetch(ctx context.Context, prev *resolver.Credential) (*resolver.Credential, error) {
	if err := h.Probe(); err != nil {
		return nil, err
	}
	opts := runner.Options{
		Timeout:   h.opts.Timeout,
		Dir:       h.opts.Dir,
		Env:       h.opts.Env,
		ScrubEnv:  h.opts.ScrubEnv,
		MaxStdout: MaxHelperOutput,
		MaxLog:    stderrTail,
		WaitDelay: waitDelay,
	}
	if prev != nil {
		opts.Secrets = append(opts.Secrets, prev.Token.Reveal())
	}
	res, runErr := runner.Run(ctx, h.opts.Command, opts)
	key := strings.TrimSpace(string(res.Stdout))
	// The printed key too: a helper that fails after printing it, or
	// prints it on both streams, must not leak it into the error.
	diag := func() string { return oneLine(res.Log(key)) }

	switch {
	case errors.Is(runErr, runner.ErrTimeout):
		return nil, &helperError{sentinel: ErrHelperTimeout, cause: context.DeadlineExceeded,
			msg: fmt.Sprintf("apikey: helper: the %s command did not finish within %v and was killed%s; make it finish sooner or raise api_key_helper_timeout",
				helperSetting, h.opts.Timeout, withStderr(diag()))}
	case ctx.Err() != nil:
		return nil, fmt.Errorf("apikey: helper: the %s command was stopped: %w", helperSetting, context.Cause(ctx))
	case errors.Is(runErr, runner.ErrUnsupported):
		return nil, &helperError{sentinel: ErrHelperFailed, cause: runErr,
			msg: "apikey: helper: cannot run the " + helperSetting + " command: " + runErr.Error()}
	case runErr != nil:
		var exit *exec.ExitError
		what := "failed: " + runErr.Error()
		if errors.As(runErr, &exit) {
			what = describeExit(exit)
		}
		return nil, &helperError{sentinel: ErrHelperFailed, cause: runErr,
			msg: fmt.Sprintf("apikey: helper: the %s command %s%s; run it by hand to see why", helperSetting, what, withStderr(diag()))}
	case res.StdoutOverflow:
		return nil, &helperError{sentinel: ErrHelperOutput,
			msg: fmt.Sprintf("apikey: helper: the %s command printed more than %d bytes on standard output; it must print only the API key", helperSetting, MaxHelperOutput)}
	case key == "":
		return nil, &helperError{sentinel: ErrHelperEmpty,
			msg: fmt.Sprintf("apikey: helper: the %s command printed nothing on standard output%s; it must print the API key", helperSetting, withStderr(diag()))}
	}
	if i := controlIndex(key); i >= 0 {
		return nil, &helperError{sentinel: ErrHelperOutput,
			msg: fmt.Sprintf("apikey: helper: the %s command's output has a control character or line break at byte %d; it must print only the API key, on one line", helperSetting, i)}
	}
	now := h.opts.Now()
	return &resolver.Credential{
		Kind:      resolver.KindAPIKey,
		Token:     resolver.NewSecret(key),
		Source:    h.opts.Name,
		IssuedAt:  now,
		RefreshAt: now.Add(h.opts.TTL),
	}, nil
}

// oneLine puts a multi-line log on one line for an error message.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, s)
}

func describeExit(exit *exec.ExitError) string {
	if code := exit.ExitCode(); code >= 0 {
		return "exited with status " + strconv.Itoa(code)
	}
	return "was killed (" + exit.String() + ")"
}

func withStderr(s string) string {
	if s == "" {
		return " (it printed nothing on standard error)"
	}
	return "; its standard error ends with: " + s
}

// ParseTTLms parses CLAUDE_CODE_API_KEY_HELPER_TTL_MS: a positive whole
// number of milliseconds.
func ParseTTLms(v string) (time.Duration, error) {
	const name = "CLAUDE_CODE_API_KEY_HELPER_TTL_MS"
	s := strings.TrimSpace(v)
	ms, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange):
		return 0, fmt.Errorf("apikey: %s=%q is too large; give the helper's key lifetime in milliseconds, e.g. 300000 for 5 minutes", name, v)
	case err != nil:
		return 0, fmt.Errorf("apikey: %s=%q is not a whole number of milliseconds; e.g. 300000 for 5 minutes", name, v)
	case ms <= 0:
		return 0, fmt.Errorf("apikey: %s=%q must be at least 1 millisecond; e.g. 300000 for 5 minutes (unset it for the default)", name, v)
	case ms > int64(time.Duration(1<<63-1)/time.Millisecond):
		return 0, fmt.Errorf("apikey: %s=%q is too large; give the helper's key lifetime in milliseconds, e.g. 300000 for 5 minutes", name, v)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// helperError carries its sentinel and the underlying error.
type helperError struct {
	sentinel error
	cause    error
	msg      string
}

func (e *helperError) Error() string { return e.msg }
func (e *helperError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.sentinel}
	}
	return []error{e.sentinel, e.cause}
}
