// Package shell runs the user-configured commands of the cloud providers
// (aws.auth_refresh, aws.credential_export, gcp.auth_refresh) through
// internal/runner (the platform's shell, a timeout that kills the whole
// process group, bounded and redacted output, an environment without
// credchain's own secrets) and, for refresh commands, at most once per
// cool-down however many callers ask.
package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/credchain/credchain/internal/runner"
)

// DefaultTimeout bounds a refresh or export command, as in Claude Code
// ("AWS auth refresh timed out after 3 minutes").
const DefaultTimeout = 3 * time.Minute

// DefaultCooldown is how long after a refresh command ran it is not run
// again, so a credential that stays invalid does not start a login loop.
const DefaultCooldown = 30 * time.Second

// maxCaptured bounds how much of a command's output is kept for an error.
const maxCaptured = 4 << 10

// maxStdout bounds an export command's captured standard output.
const maxStdout = 1 << 20

// waitDelay: the shell may leave a grandchild holding the pipes; stop
// waiting for it (and kill it) shortly after the shell exited.
const waitDelay = 2 * time.Second

// ErrTimeout is matched by the error of a command that ran out of time.
var ErrTimeout = runner.ErrTimeout

// Command is one configured command.
type Command struct {
	// Setting names the setting the command came from, for errors
	// ("aws.auth_refresh (awsAuthRefresh)").
	Setting string
	// Line is the shell command line. It comes from the user's settings;
	// no secret is ever added to it.
	Line string
	// Timeout bounds one run (DefaultTimeout when zero).
	Timeout time.Duration
	// ScrubEnv names variables to remove from the command's environment,
	// besides credchain's own secrets (runner.ScrubbedEnv).
	ScrubEnv []string
	// Secrets are redacted from the output shown and put into errors.
	Secrets []string
}

// Output captures stdout (for export commands) and, when Show is nil,
// stderr; when Show is set both streams of an interactive command are copied
// there as they arrive.
type Output struct {
	Stdout []byte
	// Log is the tail of what the command printed on stderr (and on stdout
	// for refresh commands), redacted, for errors. It never holds an
	// export command's stdout, which carries secrets.
	Log string
}

// Run runs c. When captureStdout is true stdout is returned in Output.Stdout
// and never shown or logged. show, when non-nil, receives the command's
// output live, redacted (an interactive user watching `aws sso login`).
func Run(ctx context.Context, c Command, captureStdout bool, show io.Writer) (Output, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	res, err := runner.Run(ctx, c.Line, runner.Options{
		Timeout:       timeout,
		ScrubEnv:      c.ScrubEnv,
		Secrets:       c.Secrets,
		CombineOutput: !captureStdout,
		Show:          show,
		MaxStdout:     maxStdout,
		MaxLog:        maxCaptured,
		WaitDelay:     waitDelay,
	})
	out := Output{Stdout: res.Stdout, Log: res.Log()}
	switch {
	case errors.Is(err, runner.ErrTimeout):
		return out, fmt.Errorf("%s: command %s did not finish within %v and was stopped: %w", c.Setting, quote(runner.Redact(c.Line, c.Secrets)), timeout, ErrTimeout)
	case err != nil:
		msg := fmt.Sprintf("%s: command %s failed: %v", c.Setting, quote(runner.Redact(c.Line, c.Secrets)), err)
		if out.Log != "" && show == nil {
			msg += "; its output:\n" + out.Log
		}
		return out, errors.New(msg)
	}
	return out, nil
}

func quote(line string) string {
	const max = 120
	if len(line) > max {
		line = line[:max] + "…"
	}
	return fmt.Sprintf("%q", line)
}

// Refresher runs one refresh command at most once per cool-down; callers
// that arrive while it runs wait for that run and share its result.
type Refresher struct {
	Command  Command
	Cooldown time.Duration    // DefaultCooldown when zero
	Now      func() time.Time // time.Now when nil
	Show     io.Writer        // live output for an interactive user; nil captures it

	mu      sync.Mutex
	running chan struct{}
	lastRun time.Time
	lastErr error
}

// NewRefresher returns the Refresher running c (its setting, line, timeout
// and scrub list), or nil when c.Line is empty (nothing to run).
func NewRefresher(c Command, cooldown time.Duration, now func() time.Time, show io.Writer) *Refresher {
	if c.Line == "" {
		return nil
	}
	return &Refresher{
		Command:  c,
		Cooldown: cooldown,
		Now:      now,
		Show:     show,
	}
}

// Refresh runs the command unless a run is in progress (it waits for that
// one) or one finished less than the cool-down ago (it returns that run's
// result at once). ran reports whether this call or the one it waited for
// actually ran the command.
func (r *Refresher) Refresh(ctx context.Context) (ran bool, err error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	cooldown := r.Cooldown
	if cooldown <= 0 {
		cooldown = DefaultCooldown
	}
	r.mu.Lock()
	if ch := r.running; ch != nil {
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		r.mu.Lock()
		err := r.lastErr
		r.mu.Unlock()
		return true, err
	}
	if !r.lastRun.IsZero() && now().Sub(r.lastRun) < cooldown {
		err := r.lastErr
		r.mu.Unlock()
		return false, err
	}
	ch := make(chan struct{})
	r.running = ch
	r.mu.Unlock()

	_, err = Run(ctx, r.Command, false, r.Show)

	r.mu.Lock()
	r.running = nil
	r.lastRun = now()
	r.lastErr = err
	r.mu.Unlock()
	close(ch)
	return true, err
}
