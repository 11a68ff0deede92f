//go:build windows

package apikey

import (
	"context"
	"os"
	"os/exec"
	"syscall"
)

// shellCommand runs command with cmd.exe. The command line is passed as is
// (cmd.exe does not parse arguments the way CommandLineToArgvW does); /S
// strips the outer quotes only.
func shellCommand(ctx context.Context, command string) (*exec.Cmd, error) {
	comspec := os.Getenv("ComSpec")
	if comspec == "" {
		comspec = `C:\Windows\System32\cmd.exe`
	}
	cmd := exec.CommandContext(ctx, comspec)
	cmd.SysProcAttr = &syscall.SysProcAttr{CmdLine: `cmd.exe /d /s /c "` + command + `"`}
	return cmd, nil
}

// killGroup has no process group to end here; the shell itself has exited.
func killGroup(*exec.Cmd) {}
