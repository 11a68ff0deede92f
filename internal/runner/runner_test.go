//go:build unix

package runner_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/runner"
	"github.com/credchain/credchain/internal/testenv"
)

const secret = "sk-ant-api03-runner-test-secret-0001"

// readPids reads the pids the command wrote, one file each.
func readPids(t *testing.T, dir string, names ...string) []int {
	t.Helper()
	var pids []int
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			t.Fatalf("bad pid %q in %s", b, n)
		}
		pids = append(pids, pid)
	}
	return pids
}

// groupCommand starts two background sleeps and hangs in a third, writing
// the shell's pid (the group id) and the sleeps' pids to dir; it prints
// "started" on stderr once all are written.
func groupCommand(dir string) string {
	q := func(n string) string { return "'" + filepath.Join(dir, n) + "'" }
	return "echo $$ > " + q("pid") + "; sleep 61 & echo $! > " + q("bg1") + "; sleep 62 & echo $! > " + q("bg2") +
		"; echo started >&2; sleep 60"
}

// TestTimeoutKillsTheGroup: when the timeout fires, the shell and
// everything it started are gone (read from /proc), and the error matches
// ErrTimeout.
func TestTimeoutKillsTheGroup(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	res, err := runner.Run(context.Background(), groupCommand(dir), runner.Options{Timeout: 300 * time.Millisecond})
	if !errors.Is(err, runner.ErrTimeout) {
		t.Fatalf("Run = %v, want ErrTimeout", err)
	}
	if !strings.Contains(res.Log(), "started") {
		t.Errorf("log %q lacks what the command printed before it was killed", res.Log())
	}
	pids := readPids(t, dir, "pid", "bg1", "bg2")
	testenv.WaitProcessesGone(t, pids, 10*time.Second)
	testenv.WaitProcessGroupGone(t, pids[0], 10*time.Second)
}

// TestCancelKillsTheGroup: the caller's context ending kills the group too,
// and the error is the context's, not a timeout.
func TestCancelKillsTheGroup(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	// The command signals it has started everything by creating a FIFO
	// reader: opening the FIFO for writing returns only then.
	fifo := filepath.Join(dir, "started")
	if err := exec.Command("mkfifo", fifo).Run(); err != nil {
		t.Fatal(err)
	}
	line := groupCommand(dir) + " & cat '" + fifo + "' > /dev/null; wait"
	done := make(chan error, 1)
	go func() {
		_, err := runner.Run(ctx, line, runner.Options{Timeout: time.Minute})
		done <- err
	}()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	cancel()
	err = <-done
	if !errors.Is(err, context.Canceled) || errors.Is(err, runner.ErrTimeout) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	// The sleeps were started by a subshell; wait until it wrote them.
	pids := readPids(t, dir, "pid")
	testenv.WaitProcessGroupGone(t, pids[0], 10*time.Second)
}

// TestEnvironmentScrubbed: credchain's own secrets and the variables the
// caller names are not in the child's environment, everything else is,
// and their values are redacted from the log.
func TestEnvironmentScrubbed(t *testing.T) {
	testenv.Hermetic(t)
	const password = "file-store-master-password-1234"
	env := []string{"PATH=" + os.Getenv("PATH"), "KEEP_ME=kept", "CREDCHAIN_FILE_PASSWORD=" + password,
		"CREDCHAIN_API_KEY_HELPER=echo " + secret, "SOURCE_SECRET=source-secret-value-5678"}
	res, err := runner.Run(context.Background(), "env; echo \"leaked $CREDCHAIN_FILE_PASSWORD\" >&2; echo "+password+" >&2; exit 3",
		runner.Options{Env: env, ScrubEnv: []string{"SOURCE_SECRET"}})
	var exit *exec.ExitError
	if !errors.As(err, &exit) || res.ExitCode != 3 {
		t.Fatalf("Run = %v (exit %d), want exit status 3", err, res.ExitCode)
	}
	got := string(res.Stdout)
	if !strings.Contains(got, "KEEP_ME=kept") {
		t.Fatalf("the child's environment lacks KEEP_ME:\n%s", got)
	}
	for _, name := range []string{"CREDCHAIN_FILE_PASSWORD", "CREDCHAIN_API_KEY_HELPER", "SOURCE_SECRET"} {
		if strings.Contains(got, name+"=") {
			t.Errorf("the child's environment has %s", name)
		}
	}
	log := res.Log()
	if strings.Contains(log, password) || !strings.Contains(log, runner.Redacted) {
		t.Errorf("log %q: the scrubbed password's value is not redacted", log)
	}
}

// TestLogRedactedAndBounded: the log keeps the end of standard error, with
// the named secrets and extra ones replaced and terminal escapes defused.
func TestLogRedactedAndBounded(t *testing.T) {
	testenv.Hermetic(t)
	const printed = "printed-key-0123456789"
	line := "head -c 20000 /dev/zero | tr '\\0' x >&2; printf 'a %s b %s \\033[31m\\n' " + secret + " " + printed + " >&2; exit 1"
	res, err := runner.Run(context.Background(), line, runner.Options{Secrets: []string{secret, "short"}, MaxLog: 1000})
	if err == nil {
		t.Fatal("Run succeeded, want exit status 1")
	}
	log := res.Log(printed)
	for _, bad := range []string{secret, printed, "\x1b"} {
		if strings.Contains(log, bad) {
			t.Errorf("log contains %q: %q", bad, log)
		}
	}
	if !strings.HasPrefix(log, "…xxx") || !strings.HasSuffix(log, "a [REDACTED] b [REDACTED] ?[31m") {
		t.Errorf("log = %q, want the cut tail with both secrets redacted", log)
	}
	if len(log) > 1000+len("…") {
		t.Errorf("log is %d bytes, want at most MaxLog", len(log))
	}
}

// TestShowRedacted: what is shown live has the secrets replaced, also when
// a secret arrives in pieces.
func TestShowRedacted(t *testing.T) {
	testenv.Hermetic(t)
	var shown testenv.SyncBuffer
	half := len(secret) / 2
	line := "printf 'x %s' '" + secret[:half] + "'; printf '%s y\\n' '" + secret[half:] + "' >&2; echo done"
	_, err := runner.Run(context.Background(), line, runner.Options{Secrets: []string{secret}, CombineOutput: true, Show: &shown})
	if err != nil {
		t.Fatal(err)
	}
	got := shown.String()
	if strings.Contains(got, secret) || strings.Contains(got, secret[:half]) || got != "x [REDACTED] y\ndone\n" {
		t.Fatalf("shown %q, want the secret redacted", got)
	}
}

// TestStdoutBounded: standard output is kept up to MaxStdout and the rest
// drained (the command is not blocked on a full pipe).
func TestStdoutBounded(t *testing.T) {
	testenv.Hermetic(t)
	res, err := runner.Run(context.Background(), "head -c 300000 /dev/zero", runner.Options{MaxStdout: 1000})
	if err != nil || len(res.Stdout) != 1000 || !res.StdoutOverflow {
		t.Fatalf("Run = %v: %d bytes, overflow %v; want 1000 and overflow", err, len(res.Stdout), res.StdoutOverflow)
	}
}

// TestStragglerKilled: a process the shell left holding its output is
// killed after WaitDelay, and the run counts as successful.
func TestStragglerKilled(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	line := "sleep 60 & echo $! > '" + filepath.Join(dir, "bg") + "'; echo result"
	res, err := runner.Run(context.Background(), line, runner.Options{WaitDelay: 100 * time.Millisecond})
	if err != nil || strings.TrimSpace(string(res.Stdout)) != "result" {
		t.Fatalf("Run = %v, %q; want success with the output", err, res.Stdout)
	}
	testenv.WaitProcessesGone(t, readPids(t, dir, "bg"), 10*time.Second)
}
