//go:build !unix && !windows

package apikey

import (
	"context"
	"errors"
	"os/exec"
	"runtime"
)

func shellCommand(context.Context, string) (*exec.Cmd, error) {
	return nil, errors.New("running a helper command is not supported on " + runtime.GOOS)
}

// killGroup has no process group to end here; the shell itself has exited.
func killGroup(*exec.Cmd) {}
