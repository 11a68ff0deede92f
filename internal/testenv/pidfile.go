package testenv

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// HangingCommand returns a shell command that writes its process id to
// pidFile and then sleeps for 10 minutes: a test that expects it to be
// killed checks, with WaitProcessesGone(ReadPID(pidFile)), that it is gone
// long before it could have ended by itself, instead of timing the call.
func HangingCommand(pidFile string) string {
	return "sh -c 'echo $$ > \"" + pidFile + "\"; exec sleep 600'"
}

// ReadPID reads the process id a HangingCommand (or any script) wrote.
func ReadPID(t testing.TB, pidFile string) int {
	t.Helper()
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("testenv: reading the pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		t.Fatalf("testenv: bad pid %q in %s", data, pidFile)
	}
	return pid
}
