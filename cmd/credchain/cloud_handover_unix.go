//go:build unix

package main

import "syscall"

// handOver replaces this process with path, given args and env; it returns
// only when that fails.
func handOver(path string, args, env []string) error {
	return syscall.Exec(path, append([]string{path}, args...), env)
}
