//go:build integration

package itest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// cliBuild is the one credchain binary of a test process, shared by every
// test that runs it (a build takes seconds warm, minutes cold).
var cliBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// BuildCredchain builds ./cmd/credchain once per test process into a
// temporary directory and returns the binary's path. A failed build fails
// the test. Call RemoveCredchainBuild from TestMain to delete the binary
// when the tests are done.
//
// It works after Hermetic too: the go command is run with the real home
// directory (from the user database, not $HOME), so it finds the module and
// build caches instead of downloading and compiling everything again.
func BuildCredchain(t testing.TB) string {
	t.Helper()
	cliBuild.once.Do(func() {
		cliBuild.dir, cliBuild.path, cliBuild.err = buildCredchain()
	})
	if cliBuild.err != nil {
		t.Fatalf("itest: building credchain: %v", cliBuild.err)
	}
	return cliBuild.path
}

// RemoveCredchainBuild deletes the binary BuildCredchain built, if any.
func RemoveCredchainBuild() {
	if cliBuild.dir != "" {
		_ = os.RemoveAll(cliBuild.dir)
	}
}

func buildCredchain() (dir, path string, err error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", "", fmt.Errorf("the go command is not on PATH: %w", err)
	}
	env := goEnv()
	gomod, err := runGo(goBin, "", env, "env", "GOMOD")
	if err != nil {
		return "", "", err
	}
	if gomod == "" || gomod == os.DevNull {
		return "", "", fmt.Errorf("not inside the credchain module (go env GOMOD is empty)")
	}
	dir, err = os.MkdirTemp("", "credchain-test-bin-")
	if err != nil {
		return "", "", err
	}
	path = filepath.Join(dir, "credchain")
	if _, err := runGo(goBin, filepath.Dir(gomod), env, "build", "-o", path, "./cmd/credchain"); err != nil {
		_ = os.RemoveAll(dir)
		return "", "", err
	}
	return dir, path, nil
}

// goEnv is the test's environment with HOME restored to the user's real
// home and the XDG directories Hermetic redirects removed, so the go
// command uses the real caches and settings.
func goEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME":
			continue
		}
		env = append(env, kv)
	}
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		env = append(env, "HOME="+u.HomeDir)
	}
	return env
}

func runGo(goBin, dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command(goBin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}
