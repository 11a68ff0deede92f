//go:build !unix && !windows

package runner

import (
	"context"
	"os/exec"
)

func shellCommand(context.Context, string) (*exec.Cmd, *group, error) {
	return nil, nil, ErrUnsupported
}

type group struct{}

func (*group) started(*exec.Cmd) {}
func (*group) kill()             {}
func (*group) release()          {}
