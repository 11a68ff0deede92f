//go:build unix && integration

package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
)

// These tests run the real credchain binary as a child process: descriptors
// inherited as fd 3, exit statuses and signals of credchain exec, and what
// reaches a process's argv.

// cliEnv is a minimal environment for a credchain child: no inherited
// credential, no D-Bus, the memory store, a private HOME.
func cliEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	home := t.TempDir()
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"DBUS_SESSION_BUS_ADDRESS=disabled:",
		"CI=true",
		"CREDCHAIN_STORE_BACKEND=memory",
	}, extra...)
}

// runBinary runs credchain with env and extra descriptors (fd 3, 4, ...),
// and returns stdout, stderr and the exit code.
func runBinary(t *testing.T, env []string, extra []*os.File, args ...string) result {
	t.Helper()
	cmd := exec.Command(itest.BuildCredchain(t), args...)
	cmd.Env = env
	cmd.ExtraFiles = extra
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running credchain: %v", err)
	}
	return result{out.String(), errb.String(), code}
}

// pipeWith returns the read end of a pipe that yields data then EOF. The
// data is written from a goroutine, so it may exceed the pipe's buffer.
func pipeWith(t *testing.T, data []byte) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = w.Write(data) // the reader may stop early (too large)
		_ = w.Close()
	}()
	t.Cleanup(func() { _ = r.Close(); <-done })
	return r
}

// socketWith returns one end of a connected Unix socket pair whose other
// end has sent data and closed: a descriptor /proc/self/fd/N cannot reopen.
func socketWith(t *testing.T, data []byte) *os.File {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	peer := os.NewFile(uintptr(fds[0]), "socket-peer")
	if _, err := peer.Write(data); err != nil {
		t.Fatal(err)
	}
	_ = peer.Close()
	f := os.NewFile(uintptr(fds[1]), "socket")
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func TestBinaryFDSources(t *testing.T) {
	testenv.Hermetic(t)
	secret := "fd-secret-0123456789abcdefWXYZ"
	tests := []struct {
		name     string
		variable string
		file     func(t *testing.T) *os.File
		args     []string
		code     int
		out      string
		errs     []string
	}{
		{"api key on a pipe", "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR", func(t *testing.T) *os.File { return pipeWith(t, []byte(secret+"\n")) },
			[]string{"token"}, 0, secret + "\n", nil},
		{"oauth token on a socketpair", "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR", func(t *testing.T) *os.File { return socketWith(t, []byte(secret)) },
			[]string{"token", "--format", "json"}, 0, `{"source":"oauth-token-fd","kind":"bearer","token":"` + secret + `","expires_at":null}` + "\n", nil},
		{"api key on a socketpair", "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR", func(t *testing.T) *os.File { return socketWith(t, []byte(secret+"\n")) },
			[]string{"token"}, 0, secret + "\n", nil},
		{"closed descriptor", "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR", nil,
			[]string{"token"}, 1, "", []string{"credchain: api-key-fd", "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR", "not open"}},
		{"empty pipe", "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR", func(t *testing.T) *os.File { return pipeWith(t, nil) },
			[]string{"token"}, 1, "", []string{"credchain: oauth-token-fd", "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR", "no secret"}},
		{"64 KiB + 1", "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR", func(t *testing.T) *os.File { return pipeWith(t, bytes.Repeat([]byte("k"), 64<<10+1)) },
			[]string{"token"}, 1, "", []string{"credchain: api-key-fd", "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR", "64 KiB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var extra []*os.File
			if tt.file != nil {
				extra = []*os.File{tt.file(t)}
			}
			// With a lower source set too, so a failing descriptor must not
			// fall through to it (for api-key-fd; nothing configurable is
			// below oauth-token-fd).
			env := cliEnv(t, tt.variable+"=3")
			if tt.variable == "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR" {
				env = append(env, "CLAUDE_CODE_OAUTH_TOKEN=lower-token-0000000000")
			}
			r := runBinary(t, env, extra, tt.args...)
			if r.code != tt.code || r.out != tt.out {
				t.Fatalf("got %+v, want exit %d stdout %q", r, tt.code, tt.out)
			}
			for _, want := range tt.errs {
				if !strings.Contains(r.err, want) {
					t.Errorf("stderr %q lacks %q", r.err, want)
				}
			}
		})
	}
}

func TestBinaryExitCodes(t *testing.T) {
	testenv.Hermetic(t)
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		err  string
	}{
		{"ok", []string{"ANTHROPIC_API_KEY=" + key40}, []string{"token"}, 0, ""},
		{"usage: flag", nil, []string{"--bogus"}, 2, "credchain: unknown flag: --bogus"},
		{"usage: settings", []string{"CREDCHAIN_CHAIN=api-key,api-keys"}, []string{"token"}, 2, `credchain: $CREDCHAIN_CHAIN: chain[1]: unknown source "api-keys"; allowed: gateway, bedrock`},
		{"no source", nil, []string{"token"}, 3, "credchain: no credential source is configured"},
		{"no source: status", nil, []string{"status"}, 3, "credchain: no credential source is configured"},
		{"failing source", []string{"CREDCHAIN_API_KEY_HELPER=exit 9"}, []string{"token"}, 1, "credchain: api-key-helper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, cliEnv(t, tt.env...), nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.err, tt.err) {
				t.Errorf("got %+v, want exit %d and %q", r, tt.code, tt.err)
			}
		})
	}
}

func TestBinaryStatusShowsNoSecret(t *testing.T) {
	testenv.Hermetic(t)
	env := cliEnv(t, "ANTHROPIC_API_KEY="+key40, "CLAUDE_CODE_OAUTH_TOKEN="+strings.ToUpper(key40))
	for _, args := range [][]string{{"status"}, {"status", "--json"}} {
		r := runBinary(t, env, nil, args...)
		if r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
		all := r.out + r.err
		if strings.Contains(all, key40) || strings.Contains(all, strings.ToUpper(key40)) || strings.Contains(all, key40[:20]) {
			t.Errorf("%v shows a secret:\n%s", args, all)
		}
		if !strings.Contains(r.out, "****"+key40[len(key40)-4:]) {
			t.Errorf("%v lacks the masked key:\n%s", args, r.out)
		}
	}
}

func TestBinaryExecArgvHasNoSecret(t *testing.T) {
	testenv.Hermetic(t)
	r := runBinary(t, cliEnv(t, "ANTHROPIC_API_KEY="+key40), nil,
		"exec", "--", "sh", "-c", `tr '\000' ' ' </proc/$$/cmdline; echo; printf '%s\n' "$ANTHROPIC_API_KEY"`)
	lines := strings.Split(r.out, "\n")
	if r.code != 0 || len(lines) < 2 {
		t.Fatalf("got %+v", r)
	}
	if !strings.HasPrefix(lines[0], "sh -c ") || strings.Contains(lines[0], key40) {
		t.Errorf("child argv %q", lines[0])
	}
	if lines[1] != key40 {
		t.Errorf("child environment has %q", lines[1])
	}
}

func TestBinaryExecExitStatus(t *testing.T) {
	testenv.Hermetic(t)
	env := cliEnv(t, "ANTHROPIC_API_KEY="+key40)
	for _, tt := range []struct {
		script string
		code   int
	}{
		{"exit 0", 0},
		{"exit 7", 7},
		{"kill -TERM $$", 143},
		{"kill -HUP $$", 129},
	} {
		r := runBinary(t, env, nil, "exec", "--", "sh", "-c", tt.script)
		if r.code != tt.code || r.err != "" {
			t.Errorf("%q: got %+v, want exit %d", tt.script, r, tt.code)
		}
	}
}

// TestBinaryExecForwardsSignals sends a signal to credchain while its child
// waits on a FIFO nobody writes; the child must receive it.
func TestBinaryExecForwardsSignals(t *testing.T) {
	testenv.Hermetic(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		name := strings.TrimPrefix(sigName(sig), "SIG")
		t.Run(name, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			script := `trap 'kill $pid 2>/dev/null; echo "got ` + name + `"; exit 42' ` + name + `
cat "$FIFO" & pid=$!
echo ready
wait $pid
echo "wait ended without a signal"`
			cmd := exec.Command(itest.BuildCredchain(t), "exec", "--", "sh", "-c", script)
			cmd.Env = cliEnv(t, "ANTHROPIC_API_KEY="+key40, "FIFO="+fifo)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// A deadline, not a synchronisation: if the signal is lost, end
			// the child's wait so the test fails instead of hanging.
			watchdog := time.AfterFunc(30*time.Second, func() {
				if f, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
					_ = f.Close()
				}
			})
			defer watchdog.Stop()
			sc := bufio.NewScanner(stdout)
			if !sc.Scan() || sc.Text() != "ready" {
				t.Fatalf("child did not get ready: %q %v; stderr %s", sc.Text(), sc.Err(), stderr.String())
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			var rest []string
			for sc.Scan() {
				rest = append(rest, sc.Text())
			}
			err = cmd.Wait()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			if code != 42 || strings.Join(rest, "\n") != "got "+name {
				t.Errorf("exit %d, output %q, stderr %q; want 42 and %q", code, rest, stderr.String(), "got "+name)
			}
		})
	}
}

func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}
