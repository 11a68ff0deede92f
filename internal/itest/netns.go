//go:build integration

package itest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// netnsMarker is set in the environment of a test binary re-run inside a
// loopback-only network namespace.
const netnsMarker = "TESTENV_IN_LOOPBACK_NETNS" // not CREDCHAIN_*: Hermetic clears those

// netnsTimeout bounds one test run inside the namespace.
const netnsTimeout = 4 * time.Minute

// LoopbackNetnsCommand wraps argv so it runs in a new network namespace
// holding only the loopback interface, brought up (unshare -n, as root). A
// client that misses an endpoint override then fails to connect instead of
// reaching the real cloud.
func LoopbackNetnsCommand(argv ...string) []string {
	return append([]string{"unshare", "-n", "sh", "-c", `ip link set lo up && exec "$@"`, "credchain-netns"}, argv...)
}

// InLoopbackNetns reports whether this process runs inside the namespace
// RunInLoopbackNetns made.
func InLoopbackNetns() bool { return os.Getenv(netnsMarker) == "1" }

// RunInLoopbackNetns runs the calling test inside a loopback-only network
// namespace, with every client and server it starts. Outside the namespace
// it re-runs the test binary for just this test under unshare -n (with env
// added to the environment), streams the result into the test log, fails
// the test if the run failed or did not run the test, and returns false:
// the caller returns at once. Inside it checks that loopback is the only
// interface and returns true: the caller goes on with the test's body.
//
// The namespace needs root and the unshare and ip programs; without them
// the test fails, never skips.
//
//	if !itest.RunInLoopbackNetns(t, "BIN="+bin) {
//		return
//	}
func RunInLoopbackNetns(t *testing.T, env ...string) bool {
	t.Helper()
	if InLoopbackNetns() {
		ifs, err := net.Interfaces()
		if err != nil {
			t.Fatalf("itest: listing network interfaces: %v", err)
		}
		for _, i := range ifs {
			if i.Flags&net.FlagLoopback == 0 {
				t.Fatalf("itest: inside the test namespace, interface %s is not loopback", i.Name)
			}
		}
		return true
	}
	if os.Geteuid() != 0 {
		t.Fatalf("itest: %s runs its clients in a network namespace with only loopback (unshare -n), which needs root; run the tests as root (CI does)", t.Name())
	}
	RequireCommand(t, "unshare", "apt-get install util-linux")
	RequireCommand(t, "ip", "apt-get install iproute2")
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("itest: finding the test binary: %v", err)
	}
	var parts []string
	for _, p := range strings.Split(t.Name(), "/") {
		parts = append(parts, "^"+regexp.QuoteMeta(p)+"$")
	}
	// The child's own timeout comes first, so a hang inside ends with the
	// child's goroutine dump in this test's log, not with the parent's.
	limit := netnsTimeout
	if d, ok := t.Deadline(); ok && time.Until(d)-30*time.Second < limit {
		limit = max(time.Until(d)-30*time.Second, time.Second)
	}
	args := []string{self, "-test.run=" + strings.Join(parts, "/"), "-test.v", "-test.count=1", "-test.timeout=" + limit.Round(time.Second).String()}
	argv := LoopbackNetnsCommand(args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), netnsMarker+"=1"), env...)
	if wd, err := os.Getwd(); err == nil {
		cmd.Dir = wd
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	t.Logf("inside a loopback-only network namespace:\n%s", out.String())
	if runErr != nil {
		t.Fatalf("itest: %s failed inside the network namespace: %v", t.Name(), runErr)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("--- PASS: %s ", t.Name())) {
		t.Fatalf("itest: %s did not run inside the network namespace (no PASS line for it)", t.Name())
	}
	return false
}
