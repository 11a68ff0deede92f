package cache_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
)

// childEnv names the role of a re-executed test binary.
const childEnv = "CACHE_TEST_CHILD"

// TestMain runs the helper roles of re-executed test binaries, and makes
// sure the tests run in a process that started without a D-Bus session bus:
// 99designs/keyring connects to the bus in its package init, before any
// test could clear the variable, and the tests must neither reach a
// developer's real keyring nor let a bus be autolaunched. Only the Secret
// Service child runs with a bus, the private one its parent started.
func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "plaintext-writer":
		os.Exit(childPlaintextWriter())
	case "lock-holder":
		os.Exit(childLockHolder())
	case "secret-service":
		os.Exit(childSecretService())
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "disabled:" {
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=disabled:")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case err == nil:
			os.Exit(0)
		case errors.As(err, &exit) && exit.ExitCode() > 0:
			os.Exit(exit.ExitCode())
		default:
			fmt.Fprintf(os.Stderr, "cache tests: re-running without a D-Bus session bus: %v\n", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// childPlaintextWriter writes CACHE_TEST_N distinct large records to key
// "race" of the plaintext store in CACHE_TEST_DIR, after "go" on stdin.
func childPlaintextWriter() int {
	n, _ := strconv.Atoi(os.Getenv("CACHE_TEST_N"))
	s, err := cache.Open(context.Background(), cache.Options{Backend: "plaintext", Dir: os.Getenv("CACHE_TEST_DIR"), Timeout: time.Minute})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "no go:", err)
		return 1
	}
	for i := range n {
		if err := s.Set(context.Background(), "race", raceValue('c', i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// childLockHolder takes the lock of "oauth" in the plaintext store in
// CACHE_TEST_DIR, says "locked", releases it when a line arrives on stdin,
// says "released", and exits at end of input.
func childLockHolder() int {
	s, err := cache.Open(context.Background(), cache.Options{Backend: "plaintext", Dir: os.Getenv("CACHE_TEST_DIR")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	unlock, err := s.Lock(context.Background(), "oauth")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	in := bufio.NewReader(os.Stdin)
	if _, err := in.ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "no release line:", err)
		return 1
	}
	unlock()
	fmt.Println("released")
	_, _ = in.ReadString('\n') // until the parent closes stdin
	return 0
}

// raceValue is the i-th record of writer w: 128 KiB, distinct per (w, i),
// so a torn record (the head of one and the tail of another) matches none.
func raceValue(w byte, i int) []byte {
	head := fmt.Sprintf("%c-%04d|", w, i)
	v := make([]byte, 128<<10)
	for j := range v {
		v[j] = head[j%len(head)]
	}
	return v
}

// startChild re-executes the test binary in role (see TestMain) with extra
// environment, and returns its pipes; the child is killed at cleanup.
func startChild(t *testing.T, role string, env ...string) (*exec.Cmd, io.WriteCloser, *bufio.Reader, *testenv.SyncBuffer) {
	t.Helper()
	child := exec.Command(os.Args[0])
	child.Env = append(append(os.Environ(), childEnv+"="+role), env...)
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testenv.SyncBuffer{}
	child.Stderr = stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	return child, stdin, bufio.NewReader(stdout), stderr
}
