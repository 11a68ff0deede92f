//go:build linux && integration

package main

import (
	"bytes"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credchain/credchain/internal/itest"
)

// binEnv carries the credchain binary built outside the network namespace
// into the test binary re-run inside it (which cannot build it again
// cheaply).
const binEnv = "PROTOCOL_TEST_CREDCHAIN_BIN" // not CREDCHAIN_*: Hermetic clears those

// credchainBin is the credchain binary: the one the parent test built, or a
// fresh build.
func credchainBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(binEnv); p != "" {
		return p
	}
	return itest.BuildCredchain(t)
}

// inNetns runs the calling test inside a loopback-only network namespace
// (see itest.RunInLoopbackNetns), with the credchain binary and the
// extra files build prepares (built outside, where the go command has its
// caches). It returns false outside: the caller returns.
func inNetns(t *testing.T, build func(t *testing.T) []string) bool {
	t.Helper()
	if itest.InLoopbackNetns() {
		return itest.RunInLoopbackNetns(t)
	}
	env := []string{binEnv + "=" + credchainBin(t)}
	if build != nil {
		env = append(env, build(t)...)
	}
	return itest.RunInLoopbackNetns(t, env...)
}

// goBuild builds the package in dir (relative to this package) into a
// temporary directory with the user's real Go caches (Hermetic moved HOME).
func goBuild(t *testing.T, dir, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", out, dir)
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME":
			continue
		}
		env = append(env, kv)
	}
	if u, err := user.Current(); err == nil {
		env = append(env, "HOME="+u.HomeDir)
	}
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, stderr.String())
	}
	return out
}

// argvRecorder is a wrapper around credchain that appends its arguments to
// a log before running it: the clients run the wrapper, and the test then
// checks that no secret was ever on a command line.
type argvRecorder struct {
	path string // the wrapper to configure in the client
	log  string
}

func newArgvRecorder(t *testing.T, bin string) *argvRecorder {
	t.Helper()
	dir := t.TempDir()
	r := &argvRecorder{path: filepath.Join(dir, "credchain-wrapper"), log: filepath.Join(dir, "argv.log")}
	script := "#!/bin/sh\nprintf '%s\\n' \"$0 $*\" >> '" + r.log + "'\nexec '" + bin + "' \"$@\"\n"
	if err := os.WriteFile(r.path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

// calls returns the recorded command lines.
func (r *argvRecorder) calls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(r.log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// checkNoSecret fails if credchain was never run through the wrapper, or
// if any recorded command line holds one of the secrets.
func (r *argvRecorder) checkNoSecret(t *testing.T, secrets ...string) {
	t.Helper()
	calls := r.calls(t)
	if len(calls) == 0 || calls[0] == "" {
		t.Fatalf("credchain was never run through %s", r.path)
	}
	for _, c := range calls {
		for _, s := range secrets {
			if s != "" && strings.Contains(c, s) {
				t.Errorf("a secret is on credchain's command line: %q", c)
			}
		}
	}
}

// writeFile writes an executable or private file and returns its path.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// runStdin runs credchain with env and stdin, and returns stdout, stderr
// and the exit code.
func runStdin(t *testing.T, bin string, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running credchain: %v", err)
	}
	return result{out.String(), errb.String(), code}
}
