//go:build unix

package apikey

import (
	"context"
	"os/exec"
	"syscall"
)

// shellCommand runs command with /bin/sh in a process group of its own, so
// a timeout kills everything the command started, not just the shell.
func shellCommand(ctx context.Context, command string) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The shell is not reaped before Cancel returns, so its pid (the
		// group id) cannot have been reused.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return cmd, nil
}
