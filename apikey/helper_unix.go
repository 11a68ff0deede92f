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

// killGroup ends what is left of the command's process group after the
// shell has exited but left processes holding its output. They keep the
// group's id in use, so it cannot have been reused.
func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
