//go:build windows

package runner

import (
	"context"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/windows"
)

// shellCommand runs line with cmd.exe (%ComSpec%) /d /s /c. The line is
// passed as is: cmd.exe does not parse its arguments the way
// CommandLineToArgvW does, and /s strips only the outer quotes. The shell
// and what it starts are put in a job object that is terminated on timeout,
// on cancel, or when processes it left hold its output after it exited.
func shellCommand(ctx context.Context, line string) (*exec.Cmd, *group, error) {
	comspec := os.Getenv("ComSpec")
	if comspec == "" {
		comspec = `C:\Windows\System32\cmd.exe`
	}
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.CommandContext(ctx, comspec)
	cmd.SysProcAttr = &syscall.SysProcAttr{CmdLine: `cmd.exe /d /s /c "` + line + `"`}
	g := &group{job: job}
	cmd.Cancel = func() error {
		g.kill()
		return cmd.Process.Kill()
	}
	return cmd, g, nil
}

// group is the job object holding the shell and its children.
type group struct{ job windows.Handle }

// started puts the shell in the job. A child it started before this call
// is not in the job; cmd.exe starts none before it has parsed the line.
func (g *group) started(cmd *exec.Cmd) {
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(cmd.Process.Pid))
	if err != nil {
		return
	}
	defer windows.CloseHandle(h)
	_ = windows.AssignProcessToJobObject(g.job, h)
}

func (g *group) kill() { _ = windows.TerminateJobObject(g.job, 1) }

// release closes the job's handle; processes in it are not affected.
func (g *group) release() { _ = windows.CloseHandle(g.job) }
