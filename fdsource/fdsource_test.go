//go:build unix

package fdsource_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/fdsource"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

const apiKeyVar = "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR"

// testSecret is long enough that its mask shows only its last 4 characters.
const testSecret = "sk-ant-fdsource-test-secret-7f3a9c"

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func newAPIKeySource(value string) *fdsource.Source {
	return fdsource.New("api-key-fd", apiKeyVar, resolver.KindAPIKey, env(map[string]string{apiKeyVar: value}))
}

// rawPipe returns a pipe's read descriptor, owned by no *os.File (the source
// closes it), after a goroutine has written content and closed the write
// end.
func rawPipe(t *testing.T, content []byte) int {
	t.Helper()
	p := pipe(t)
	w := os.NewFile(uintptr(p[1]), "pipe-w")
	done := make(chan error, 1)
	go func() {
		_, err := w.Write(content)
		done <- errors.Join(err, w.Close())
	}()
	t.Cleanup(func() {
		if err := <-done; err != nil && !errors.Is(err, syscall.EPIPE) {
			t.Errorf("writing the pipe: %v", err)
		}
	})
	return p[0]
}

// pipe returns a close-on-exec pipe's raw descriptors.
func pipe(t *testing.T) [2]int {
	t.Helper()
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		t.Fatalf("pipe: %v", err)
	}
	syscall.CloseOnExec(p[0])
	syscall.CloseOnExec(p[1])
	return p
}

// rawSocket returns one end of a socketpair whose other end has sent
// content and been closed.
func rawSocket(t *testing.T, content []byte) int {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	syscall.CloseOnExec(fds[0])
	syscall.CloseOnExec(fds[1])
	w := os.NewFile(uintptr(fds[1]), "sock-w")
	done := make(chan error, 1)
	go func() {
		_, err := w.Write(content)
		done <- errors.Join(err, w.Close())
	}()
	t.Cleanup(func() {
		if err := <-done; err != nil && !errors.Is(err, syscall.EPIPE) {
			t.Errorf("writing the socket: %v", err)
		}
	})
	return fds[0]
}

// rawFile returns a read-only descriptor of a regular file holding content.
func rawFile(t *testing.T, content []byte) int {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// closedFD returns a descriptor number that is not open in this process.
func closedFD(t *testing.T) int {
	t.Helper()
	for fd := 900; fd < 1000; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); errors.Is(err, unix.EBADF) {
			return fd
		}
	}
	t.Fatal("no closed descriptor number found between 900 and 999")
	return -1
}

func isOpen(fd int) bool {
	var st unix.Stat_t
	return !errors.Is(unix.Fstat(fd, &st), unix.EBADF)
}

func TestNotConfigured(t *testing.T) {
	testenv.Hermetic(t)
	for _, v := range []string{apiKeyVar, "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR"} {
		src := fdsource.New("x", v, resolver.KindBearer, os.Getenv)
		want := v + " is not set"
		if err := src.Probe(); !errors.Is(err, resolver.ErrNotConfigured) || resolver.Reason(err) != want {
			t.Errorf("Probe() = %v, want not configured %q", err, want)
		}
		cred, err := src.Fetch(context.Background(), nil)
		if cred != nil || !errors.Is(err, resolver.ErrNotConfigured) || resolver.Reason(err) != want {
			t.Errorf("Fetch() = %v, %v; want not configured %q", cred, err, want)
		}
	}
}

func TestFetch(t *testing.T) {
	testenv.Hermetic(t)
	exact := bytes.Repeat([]byte("k"), fdsource.MaxSize)
	tooLarge := bytes.Repeat([]byte("k"), fdsource.MaxSize+1)
	tests := []struct {
		name    string
		fd      func(t *testing.T) int
		want    string // the secret, when no error
		wantErr error
		detail  string // in the error message
		// keepOpen: a descriptor of the wrong type is left alone, since it
		// may be one the runtime opened for itself.
		keepOpen bool
	}{
		{name: "pipe", fd: func(t *testing.T) int { return rawPipe(t, []byte(testSecret+"\n")) }, want: testSecret},
		{name: "pipe without newline", fd: func(t *testing.T) int { return rawPipe(t, []byte(testSecret)) }, want: testSecret},
		{name: "pipe with CRLF", fd: func(t *testing.T) int { return rawPipe(t, []byte(testSecret+"\r\n")) }, want: testSecret},
		{name: "socketpair", fd: func(t *testing.T) int { return rawSocket(t, []byte(testSecret+"\n")) }, want: testSecret},
		{name: "regular file", fd: func(t *testing.T) int { return rawFile(t, []byte(testSecret+"\n")) }, want: testSecret},
		{name: "exactly 64 KiB", fd: func(t *testing.T) int { return rawFile(t, exact) }, want: string(exact)},
		{name: "exactly 64 KiB on a pipe", fd: func(t *testing.T) int { return rawPipe(t, exact) }, want: string(exact)},
		{name: "64 KiB + 1", fd: func(t *testing.T) int { return rawFile(t, tooLarge) }, wantErr: fdsource.ErrTooLarge, detail: "more than 65536 bytes"},
		{name: "64 KiB + 1 on a pipe", fd: func(t *testing.T) int { return rawPipe(t, tooLarge) }, wantErr: fdsource.ErrTooLarge},
		{name: "empty", fd: func(t *testing.T) int { return rawPipe(t, nil) }, wantErr: fdsource.ErrEmpty, detail: "held nothing"},
		{name: "only a newline", fd: func(t *testing.T) int { return rawFile(t, []byte("\n")) }, wantErr: fdsource.ErrEmpty},
		{name: "two trailing newlines", fd: func(t *testing.T) int { return rawPipe(t, []byte(testSecret+"\n\n")) }, wantErr: fdsource.ErrControlCharacters},
		{name: "inner newline", fd: func(t *testing.T) int { return rawPipe(t, []byte("sk-ant\nsecond-line")) }, wantErr: fdsource.ErrControlCharacters, detail: "control character at byte 6"},
		{name: "escape character", fd: func(t *testing.T) int { return rawPipe(t, []byte("sk-\x1b[31mred")) }, wantErr: fdsource.ErrControlCharacters},
		{name: "NUL", fd: func(t *testing.T) int { return rawFile(t, []byte("sk-\x00")) }, wantErr: fdsource.ErrControlCharacters},
		{name: "C1 control", fd: func(t *testing.T) int { return rawFile(t, []byte("sk-\u0085x")) }, wantErr: fdsource.ErrControlCharacters},
		{name: "invalid UTF-8", fd: func(t *testing.T) int { return rawFile(t, []byte("sk-\xff\xfe")) }, wantErr: fdsource.ErrControlCharacters, detail: "not valid UTF-8"},
		{name: "closed descriptor", fd: closedFD, wantErr: fdsource.ErrNotOpen, detail: "is not open in this process"},
		{name: "directory", fd: func(t *testing.T) int {
			fd, err := syscall.Open(t.TempDir(), syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			return fd
		}, wantErr: fdsource.ErrNotReadable, detail: "not a file, pipe, socket", keepOpen: true},
		{name: "write-only file", fd: func(t *testing.T) int {
			fd, err := syscall.Open(filepath.Join(t.TempDir(), "w"), syscall.O_WRONLY|syscall.O_CREAT|syscall.O_CLOEXEC, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			return fd
		}, wantErr: fdsource.ErrNotReadable, detail: "reading descriptor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fd := tc.fd(t)
			wasOpen := isOpen(fd)
			t.Cleanup(func() {
				if !isOpen(fd) {
					return
				}
				_ = syscall.Close(fd)
				if wasOpen && !tc.keepOpen {
					t.Errorf("descriptor %d is still open after Fetch; the source must close it", fd)
				}
			})
			src := newAPIKeySource(strconv.Itoa(fd))
			if err := src.Probe(); err != nil {
				t.Fatalf("Probe() = %v, want nil (the variable holds a number)", err)
			}
			cred, err := src.Fetch(context.Background(), nil)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Fetch() = %v, %v; want error %v", cred, err, tc.wantErr)
				}
				checkMessage(t, err, tc.detail)
				return
			}
			if err != nil {
				t.Fatalf("Fetch() error: %v", err)
			}
			if got := cred.Token.Reveal(); got != tc.want {
				t.Fatalf("secret = %d bytes ending %q, want %d bytes ending %q", len(got), tail(got), len(tc.want), tail(tc.want))
			}
			if cred.Kind != resolver.KindAPIKey || cred.Source != "api-key-fd" || !cred.Expiry.IsZero() {
				t.Errorf("credential = %v, want kind api_key from api-key-fd without expiry", cred)
			}
		})
	}
}

func tail(s string) string {
	if len(s) > 6 {
		return s[len(s)-6:]
	}
	return s
}

// checkMessage asserts the error names the variable, says what to do, and
// does not carry the secret.
func checkMessage(t *testing.T, err error, detail string) {
	t.Helper()
	msg := err.Error()
	if !strings.Contains(msg, apiKeyVar) {
		t.Errorf("error %q does not name %s", msg, apiKeyVar)
	}
	if !strings.Contains(msg, "; ") {
		t.Errorf("error %q does not say how to fix it", msg)
	}
	if detail != "" && !strings.Contains(msg, detail) {
		t.Errorf("error %q does not contain %q", msg, detail)
	}
	if strings.Contains(msg, testSecret) || strings.Contains(msg, "second-line") {
		t.Errorf("error %q contains the secret", msg)
	}
}

func TestNotANumber(t *testing.T) {
	testenv.Hermetic(t)
	for _, v := range []string{"three", "-1", "3x", " 3", "0x3", "99999999999999999999999", testSecret} {
		t.Run(v, func(t *testing.T) {
			src := newAPIKeySource(v)
			perr := src.Probe()
			_, ferr := src.Fetch(context.Background(), nil)
			for _, err := range []error{perr, ferr} {
				if !errors.Is(err, fdsource.ErrNotANumber) || errors.Is(err, resolver.ErrNotConfigured) {
					t.Fatalf("got %v, want ErrNotANumber (configured but failing)", err)
				}
				checkMessage(t, err, "not a decimal file descriptor number")
				if len(v) > 4 && strings.Contains(err.Error(), v) {
					t.Errorf("error %q echoes the value %q, which may be a misplaced secret", err, v)
				}
			}
		})
	}
}

// TestUnreadDescriptorIsCloseOnExec: until the source reads it, the
// descriptor is kept out of child processes.
func TestUnreadDescriptorIsCloseOnExec(t *testing.T) {
	testenv.Hermetic(t)
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil { // inheritable, as a parent passes it
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(p[0]); _ = syscall.Close(p[1]) })
	before, err := unix.FcntlInt(uintptr(p[0]), unix.F_GETFD, 0)
	if err != nil || before&unix.FD_CLOEXEC != 0 {
		t.Fatalf("setup: flags %v, %v", before, err)
	}
	newAPIKeySource(strconv.Itoa(p[0]))
	after, err := unix.FcntlInt(uintptr(p[0]), unix.F_GETFD, 0)
	if err != nil || after&unix.FD_CLOEXEC == 0 {
		t.Fatalf("after New the descriptor's flags are %v (%v); want FD_CLOEXEC so a child cannot inherit the unread secret", after, err)
	}
}

func TestReadOnce(t *testing.T) {
	testenv.Hermetic(t)
	fd := rawPipe(t, []byte(testSecret+"\n"))
	src := newAPIKeySource(strconv.Itoa(fd))
	first, err := src.Fetch(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if isOpen(fd) {
		t.Fatalf("descriptor %d still open after the first read", fd)
	}
	// The pipe is drained and closed; a re-read would fail. After a 401
	// the resolver asks again with prev set: the same credential comes back.
	second, err := src.Fetch(context.Background(), first)
	if err != nil {
		t.Fatalf("second Fetch: %v", err)
	}
	if second != first || second.Token.Reveal() != testSecret {
		t.Fatalf("second Fetch returned %v (%p), want the memoised %v (%p)", second, second, first, first)
	}
}

// TestVariableUnsetAfterRead: a program may remove the variable from its
// environment once the secret is read (so its children do not see it); the
// source stays configured with the secret it read.
func TestVariableUnsetAfterRead(t *testing.T) {
	testenv.Hermetic(t)
	vars := map[string]string{apiKeyVar: strconv.Itoa(rawPipe(t, []byte(testSecret)))}
	src := fdsource.New("api-key-fd", apiKeyVar, resolver.KindAPIKey, env(vars))
	first, err := src.Fetch(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	delete(vars, apiKeyVar)
	if err := src.Probe(); err != nil {
		t.Fatalf("Probe() after the variable was unset = %v, want configured", err)
	}
	again, err := src.Fetch(context.Background(), first)
	if err != nil || again != first {
		t.Fatalf("Fetch after the variable was unset = %v, %v; want the memoised credential", again, err)
	}
}

func TestFailureIsMemoised(t *testing.T) {
	testenv.Hermetic(t)
	fd := rawPipe(t, nil)
	src := newAPIKeySource(strconv.Itoa(fd))
	_, err1 := src.Fetch(context.Background(), nil)
	_, err2 := src.Fetch(context.Background(), nil)
	if !errors.Is(err1, fdsource.ErrEmpty) || err1 != err2 {
		t.Fatalf("Fetch twice = %v, %v; want the same ErrEmpty", err1, err2)
	}
}

// TestBlockedReadHonoursContext: a pipe whose writer is still open blocks
// the read; the caller's context ends the wait, not the read, and a later
// Fetch gets the secret once the writer is done.
func TestBlockedReadHonoursContext(t *testing.T) {
	testenv.Hermetic(t)
	p := pipe(t)
	w := os.NewFile(uintptr(p[1]), "pipe-w")
	t.Cleanup(func() { _ = w.Close() })
	src := newAPIKeySource(strconv.Itoa(p[0]))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if cred, err := src.Fetch(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch with a cancelled context while the writer is open = %v, %v; want context.Canceled", cred, err)
	}
	if _, err := w.WriteString(testSecret); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cred, err := src.Fetch(context.Background(), nil)
	if err != nil || cred.Token.Reveal() != testSecret {
		t.Fatalf("Fetch after the writer closed = %v, %v", cred, err)
	}
}

// TestStandardStreamStaysOpen: descriptor 0 is read through a duplicate, so
// stdin stays open for the program.
func TestStandardStreamStaysOpen(t *testing.T) {
	testenv.Hermetic(t)
	saved, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = unix.Dup2(saved, 0)
		_ = unix.Close(saved)
	})
	fd := rawPipe(t, []byte(testSecret+"\n"))
	if err := unix.Dup2(fd, 0); err != nil {
		t.Fatal(err)
	}
	_ = unix.Close(fd)
	cred, err := newAPIKeySource("0").Fetch(context.Background(), nil)
	if err != nil || cred.Token.Reveal() != testSecret {
		t.Fatalf("Fetch from fd 0 = %v, %v", cred, err)
	}
	if !isOpen(0) {
		t.Fatal("descriptor 0 was closed; standard streams must stay open")
	}
}

// TestThroughResolver: the source in a chain with a store; the credential
// is served with its header and never written to the store.
func TestThroughResolver(t *testing.T) {
	testenv.Hermetic(t)
	if _, ok := any(&fdsource.Source{}).(resolver.Persistent); ok {
		t.Fatal("fdsource.Source implements resolver.Persistent; its secret must never be stored")
	}
	store := cache.NewMemory()
	getenv := env(map[string]string{"CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR": strconv.Itoa(rawSocket(t, []byte(testSecret+"\n")))})
	r, err := resolver.New(context.Background(), resolver.Config{
		Store: store,
		Sources: []resolver.Source{
			fdsource.New("api-key-fd", apiKeyVar, resolver.KindAPIKey, getenv),
			fdsource.New("oauth-token-fd", "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR", resolver.KindBearer, getenv),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	cred, err := r.Resolve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	name, value, ok := cred.Header()
	if !ok || name != "Authorization" || value != "Bearer "+testSecret || cred.Source != "oauth-token-fd" {
		t.Fatalf("resolved %v with header %q, want a bearer from oauth-token-fd", cred, name)
	}
	for _, key := range []string{"api-key-fd", "oauth-token-fd"} {
		if _, err := store.Get(context.Background(), key); !errors.Is(err, cache.ErrNotFound) {
			t.Errorf("store holds a record for %s (err %v); fd secrets must never be stored", key, err)
		}
	}
	st := r.Status(context.Background())
	out, _ := json.Marshal(st)
	if strings.Contains(string(out), testSecret) {
		t.Fatalf("status leaks the secret: %s", out)
	}
	if len(st.Sources) != 2 || st.Sources[0].Reason != apiKeyVar+" is not set" || !st.Sources[1].Active {
		t.Fatalf("status = %s", out)
	}
}

// The child protocol: the parent re-executes the test binary with
// childMarker set; TestMain runs fdChild, which resolves the chain from its real
// environment and inherited descriptors and prints one line: the result,
// with the secret only as a hash and a mask.
const childMarker = "CREDCHAIN_FDSOURCE_TEST_CHILD"

type childResult struct {
	Source   string `json:"source,omitempty"`
	Kind     string `json:"kind,omitempty"`
	Masked   string `json:"masked,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Again    bool   `json:"again"` // a second Fetch returned the same secret
	FD3Open  bool   `json:"fd3_open"`
	Error    string `json:"error,omitempty"`
	Sentinel string `json:"sentinel,omitempty"`
}

const childPrefix = "FDCHILD-RESULT "

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestFDChild checks the child protocol itself: a child with a pipe on fd 3.
func TestFDChild(t *testing.T) {
	testenv.Hermetic(t)
	res := runChild(t, "pipe", "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR", "3")
	if res.SHA256 != hash(testSecret) || res.Kind != "bearer" {
		t.Fatalf("child result %+v", res)
	}
}

// fdChild is the child half of TestInheritedDescriptor, run by TestMain in
// a re-executed test binary.
func fdChild() int {
	var res childResult
	sources := []*fdsource.Source{
		fdsource.New("api-key-fd", apiKeyVar, resolver.KindAPIKey, os.Getenv),
		fdsource.New("oauth-token-fd", "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR", resolver.KindBearer, os.Getenv),
	}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{sources[0], sources[1]}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer r.Close()
	cred, err := r.Resolve(context.Background())
	if err != nil {
		res.Error = err.Error()
		for name, s := range map[string]error{
			"not_open": fdsource.ErrNotOpen, "empty": fdsource.ErrEmpty, "too_large": fdsource.ErrTooLarge,
			"not_a_number": fdsource.ErrNotANumber, "control": fdsource.ErrControlCharacters, "not_readable": fdsource.ErrNotReadable,
		} {
			if errors.Is(err, s) {
				res.Sentinel = name
			}
		}
	} else {
		res.Source, res.Kind, res.Masked, res.SHA256 = cred.Source, string(cred.Kind), cred.Masked(), hash(cred.Token.Reveal())
		for _, s := range sources {
			if s.Name() == cred.Source {
				again, err := s.Fetch(context.Background(), cred)
				res.Again = err == nil && again.Token.Equal(cred.Token)
			}
		}
	}
	res.FD3Open = isOpen(3)
	line, _ := json.Marshal(res)
	fmt.Println(childPrefix + string(line))
	return 0
}

// runChild starts the test binary as a child with the given kind of
// descriptor (holding testSecret) as its fd 3 and variable=value.
func runChild(t *testing.T, kind, variable, value string) childResult {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childMarker+"=1", variable+"="+value)
	var parentEnd *os.File
	switch kind {
	case "pipe":
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.ExtraFiles = []*os.File{r}
		parentEnd = w
	case "socketpair":
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
		cmd.ExtraFiles = []*os.File{os.NewFile(uintptr(fds[0]), "sock-child")}
		parentEnd = os.NewFile(uintptr(fds[1]), "sock-parent")
	case "file":
		path := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(path, []byte(testSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		cmd.ExtraFiles = []*os.File{f}
	case "none":
	default:
		t.Fatalf("unknown descriptor kind %q", kind)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, f := range cmd.ExtraFiles {
		_ = f.Close() // the child has its copy
	}
	if parentEnd != nil {
		if _, err := parentEnd.WriteString(testSecret + "\n"); err != nil {
			t.Fatalf("writing the %s: %v", kind, err)
		}
		_ = parentEnd.Close()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("child failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("child did not finish in 60s\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	out := stdout.String()
	if strings.Contains(out, testSecret) || strings.Contains(stderr.String(), testSecret) {
		t.Fatalf("the child printed the secret:\n%s%s", out, stderr.String())
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), childPrefix); ok {
			var res childResult
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				t.Fatalf("child result %q: %v", line, err)
			}
			return res
		}
	}
	t.Fatalf("the child printed no result (was %s set?):\n%s\n%s", childMarker, out, stderr.String())
	return childResult{}
}

// TestInheritedDescriptor passes a real pipe, a socketpair and a file as fd
// 3 to a child process, the way a CI job or a parent program does.
func TestInheritedDescriptor(t *testing.T) {
	testenv.Hermetic(t)
	for _, kind := range []string{"pipe", "socketpair", "file"} {
		for _, tc := range []struct{ variable, source, kind string }{
			{apiKeyVar, "api-key-fd", "api_key"},
			{"CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR", "oauth-token-fd", "bearer"},
		} {
			t.Run(kind+"/"+tc.source, func(t *testing.T) {
				res := runChild(t, kind, tc.variable, "3")
				if res.Error != "" {
					t.Fatalf("child error: %s", res.Error)
				}
				if res.SHA256 != hash(testSecret) {
					t.Fatalf("child read a different secret (masked %s)", res.Masked)
				}
				if res.Source != tc.source || res.Kind != tc.kind || res.Masked != "****3a9c" {
					t.Fatalf("child result %+v", res)
				}
				if !res.Again {
					t.Error("a second Fetch in the child did not return the memoised secret")
				}
				if res.FD3Open {
					t.Error("fd 3 is still open in the child after the read")
				}
			})
		}
	}
	t.Run("closed", func(t *testing.T) {
		// No descriptor is passed; 250 is far above what the runtime opens.
		res := runChild(t, "none", apiKeyVar, "250")
		if res.Sentinel != "not_open" || !strings.Contains(res.Error, "api-key-fd: fdsource: "+apiKeyVar) || !strings.Contains(res.Error, "descriptor 250 is not open") {
			t.Fatalf("child result %+v, want a not-open error naming the source and variable", res)
		}
	})
}
