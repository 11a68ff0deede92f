//go:build integration

package itest

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel kill moto when the test binary dies, so a
// test that times out or panics leaves no server behind.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
