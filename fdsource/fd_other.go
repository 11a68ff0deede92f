//go:build !unix

package fdsource

import "runtime"

// read refuses: Windows has no inheritable numbered descriptors a program
// can be started with, and Claude Code's file-descriptor sources do not work
// there either. The source still counts as configured, so a variable set by
// mistake stops the chain with this message instead of being ignored.
func (s *Source) read(fd int) ([]byte, error) {
	return nil, s.fail(ErrUnsupported, nil,
		"file-descriptor sources are not supported on "+osName(),
		"unset "+s.variable+" and pass the secret another way (ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN or an api_key_helper)")
}

func osName() string {
	if runtime.GOOS == "windows" {
		return "Windows"
	}
	return runtime.GOOS
}

func closeOnExec(int) {}
