//go:build unix

package shell

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the shell in its own process group and makes a
// timeout kill the whole group, so `sh -c 'slow | thing'` leaves nothing
// running.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
