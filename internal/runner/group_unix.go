//go:build unix

package runner

import (
	"context"
	"os/exec"
	"syscall"
)

// shellCommand runs line with /bin/sh -c in a process group of its own, so
// that a timeout or a cancelled context kills everything the command
// started, not just the shell. Its standard input is empty (nil), and
// outside the terminal's foreground group it cannot prompt on the terminal.
func shellCommand(ctx context.Context, line string) (*exec.Cmd, *group, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", line)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	g := &group{cmd: cmd}
	cmd.Cancel = func() error {
		// Called before the shell is reaped, so its pid (the group id)
		// cannot have been reused.
		g.kill()
		return nil
	}
	return cmd, g, nil
}

// group is the command's process group.
type group struct{ cmd *exec.Cmd }

func (g *group) started(*exec.Cmd) {}

// kill sends SIGKILL to the whole group.
func (g *group) kill() { _ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL) }

func (g *group) release() {}
