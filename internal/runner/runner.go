// Package runner runs the commands users put in their settings (the API-key
// helper, awsAuthRefresh, awsCredentialExport, gcpAuthRefresh) one way:
//
//   - through the platform's shell: /bin/sh -c on Unix; on Windows cmd.exe
//     (%ComSpec%) /d /s /c, the shell Windows users write such one-liners
//     for (Claude Code's settings examples are cmd syntax); the line is
//     passed to cmd.exe as is, since cmd.exe does not parse arguments the
//     way CommandLineToArgvW does;
//   - in a process group of its own (Unix) or a job object (Windows), killed
//     as a whole when the timeout fires or the caller's context ends, so
//     nothing the command started outlives it; processes left holding the
//     output after the shell exited are killed after a short grace;
//   - with bounded output: the head of standard output (the caller's
//     result) and the tail of standard error (for errors);
//   - with what it prints redacted before it is shown or put into an error:
//     the secrets the caller names, and the values of the variables scrubbed
//     from the child's environment;
//   - with an environment scrubbed of credchain's own secrets
//     (CREDCHAIN_FILE_PASSWORD, CREDCHAIN_API_KEY_HELPER) and of every
//     variable the caller names.
//
// Secrets are never added to a command's arguments or environment.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
	"unicode"
)

// ScrubbedEnv are the variables removed from every child's environment:
// credchain's own secrets. The file store's master password, and the
// API-key helper command (people write keys into it).
var ScrubbedEnv = []string{"CREDCHAIN_FILE_PASSWORD", "CREDCHAIN_API_KEY_HELPER"}

// Defaults of Options.
const (
	DefaultMaxStdout = 64 << 10
	DefaultMaxLog    = 4 << 10
	DefaultWaitDelay = 5 * time.Second
)

// MinSecretLen is the shortest secret redacted: replacing shorter strings
// would mangle ordinary output without protecting anything.
const MinSecretLen = 8

// Redacted replaces a secret in output.
const Redacted = "[REDACTED]"

// ErrTimeout matches the error of a command that ran longer than its
// timeout and was killed with everything it started.
var ErrTimeout = errors.New("command timed out")

// ErrUnsupported matches the error of Run on a platform with no shell.
var ErrUnsupported = errors.New("running a command is not supported on " + runtime.GOOS)

// Options configures one run.
type Options struct {
	// Timeout bounds the run; zero means only the context does.
	Timeout time.Duration
	// Dir is the working directory; empty means the current one.
	Dir string
	// Env is the child's environment before scrubbing; nil means
	// os.Environ().
	Env []string
	// ScrubEnv names more variables to remove from the child's
	// environment, besides ScrubbedEnv (secret-bearing variables of the
	// sources, for instance).
	ScrubEnv []string
	// Secrets are redacted from everything shown (Show) and from Log.
	// The values of the scrubbed variables found in Env are added.
	Secrets []string
	// CombineOutput sends standard output to the log with standard error
	// (refresh commands, whose output is for a person) instead of
	// capturing it in Result.Stdout.
	CombineOutput bool
	// Show, when set, receives the log as it arrives, redacted (a person
	// watching `aws sso login`).
	Show io.Writer
	// MaxStdout bounds the captured standard output (DefaultMaxStdout when
	// zero); the rest is drained and Result.StdoutOverflow set.
	MaxStdout int
	// MaxLog bounds the log's tail kept for errors (DefaultMaxLog when
	// zero).
	MaxLog int
	// WaitDelay is how long, after the shell has exited or been killed,
	// processes it left may hold its output before they are killed
	// (DefaultWaitDelay when zero).
	WaitDelay time.Duration
}

// Result is what a run produced. It is returned with every error.
type Result struct {
	// Stdout is the head of standard output (empty with CombineOutput).
	Stdout []byte
	// StdoutOverflow reports that standard output was longer than
	// MaxStdout.
	StdoutOverflow bool
	// ExitCode is the shell's exit status; -1 when it was killed by a
	// signal or did not run.
	ExitCode int

	log     *tail
	secrets []string
	maxLog  int
}

// Log is the end of what the command printed on its log (standard error,
// and standard output with CombineOutput), safe for an error message: the
// run's secrets and extra are replaced by Redacted, control characters
// other than newline and tab are shown as '?', and at most MaxLog bytes are
// kept, marked with a leading "…" when cut. The buffer holds twice that, so
// a secret cut by its start falls outside what is shown.
func (r *Result) Log(extra ...string) string {
	if r.log == nil {
		return ""
	}
	s, cut := r.log.bytes()
	text := Redact(string(s), append(append([]string(nil), r.secrets...), extra...))
	text = strings.Map(func(c rune) rune {
		if c == '\n' || c == '\t' {
			return c
		}
		if unicode.IsControl(c) || c == unicode.ReplacementChar {
			return '?'
		}
		return c
	}, text)
	text = strings.TrimSpace(text)
	if len(text) > r.maxLog {
		text = text[len(text)-r.maxLog:]
		cut = true
	}
	if cut && text != "" {
		text = "…" + text
	}
	return text
}

// Redact replaces every secret of at least MinSecretLen bytes in s.
// Longer secrets are replaced first, so one that contains another goes
// whole.
func Redact(s string, secrets []string) string {
	for _, sec := range longestFirst(secrets) {
		s = strings.ReplaceAll(s, sec, Redacted)
	}
	return s
}

// Run runs line with the platform's shell. The error, when the command did
// not succeed, is one of: an error matching ErrTimeout; the context's cause
// when the caller's context ended first; *exec.ExitError (non-zero exit or
// a signal); a start failure. The Result is filled in every case.
func Run(ctx context.Context, line string, opts Options) (*Result, error) {
	if opts.MaxStdout <= 0 {
		opts.MaxStdout = DefaultMaxStdout
	}
	if opts.MaxLog <= 0 {
		opts.MaxLog = DefaultMaxLog
	}
	if opts.WaitDelay <= 0 {
		opts.WaitDelay = DefaultWaitDelay
	}
	base := opts.Env
	if base == nil {
		base = os.Environ()
	}
	env, scrubbedValues := scrub(base, append(append([]string(nil), ScrubbedEnv...), opts.ScrubEnv...))
	secrets := append(append([]string(nil), opts.Secrets...), scrubbedValues...)
	res := &Result{ExitCode: -1, log: &tail{max: 2 * opts.MaxLog}, secrets: secrets, maxLog: opts.MaxLog}

	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if opts.Timeout > 0 {
		runCtx, cancel = context.WithTimeoutCause(ctx, opts.Timeout, errTimedOut)
	}
	defer cancel()
	cmd, g, err := shellCommand(runCtx, line)
	if err != nil {
		return res, err
	}
	cmd.Dir = opts.Dir
	cmd.Env = env
	cmd.WaitDelay = opts.WaitDelay
	var logW io.Writer = res.log
	var shown *redactWriter
	if opts.Show != nil {
		shown = &redactWriter{w: opts.Show, secrets: longestFirst(secrets)}
		logW = io.MultiWriter(res.log, shown)
	}
	stdout := &head{max: opts.MaxStdout}
	if opts.CombineOutput {
		// One writer for both streams: exec copies each in its own
		// goroutine, and tail and redactWriter lock.
		cmd.Stdout = logW
	} else {
		cmd.Stdout = stdout
	}
	cmd.Stderr = logW

	if err := cmd.Start(); err != nil {
		g.release()
		if ctx.Err() != nil {
			return res, context.Cause(ctx)
		}
		return res, fmt.Errorf("runner: starting the shell: %w", err)
	}
	g.started(cmd)
	runErr := cmd.Wait()
	if errors.Is(runErr, exec.ErrWaitDelay) {
		// The shell exited but something it started still held its output
		// after WaitDelay. The group's id is still in use by those
		// processes, so it cannot have been reused: end them. When the
		// run was not cut short, what the shell printed is complete.
		g.kill()
		if runCtx.Err() == nil {
			runErr = nil
		}
	}
	g.release()
	if shown != nil {
		shown.flush()
	}
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	res.Stdout, res.StdoutOverflow = stdout.buf, stdout.overflow

	switch {
	case errors.Is(context.Cause(runCtx), errTimedOut):
		return res, fmt.Errorf("runner: the command did not finish within %v and was killed: %w", opts.Timeout, ErrTimeout)
	case ctx.Err() != nil:
		return res, context.Cause(ctx)
	}
	return res, runErr
}

// errTimedOut is the cause of the run's context when its timeout fires, to
// tell it apart from the caller cancelling.
var errTimedOut = errors.New("runner: timeout")

// scrub returns env without the named variables, and the values they had.
// Names compare case-insensitively on Windows, as its environment does.
func scrub(env, names []string) (kept, values []string) {
	same := func(a, b string) bool { return a == b }
	if runtime.GOOS == "windows" {
		same = strings.EqualFold
	}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			if same(name, n) {
				drop = true
				break
			}
		}
		if !drop {
			kept = append(kept, kv)
			continue
		}
		if value != "" {
			values = append(values, value)
		}
	}
	return kept, values
}
