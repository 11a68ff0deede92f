package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/credchain/credchain/config"
)

// cloudHandover returns the root command's PersistentPreRunE. In a lean
// build (-tags credchain_lean: no AWS or Google SDK, so every run starts
// faster), a command whose chain has bedrock or vertex turned on, and
// status, are handed to the full build, credchain-cloud next to this
// binary, before they read any input or write any output. The process is
// replaced (on Unix), so output, exit status and signals are the full
// build's. In the full build it does nothing.
func (a *App) cloudHandover(args []string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if config.CloudSourcesBuiltIn {
			return nil
		}
		s, err := a.Settings(cmd)
		if err != nil {
			return nil // the command itself reports bad settings
		}
		on := s.EnabledCloudSources()
		exe, exeErr := os.Executable()
		full := cloudBinaryPath(exe)
		if len(on) == 0 {
			// status describes every source, turned off ones too (region,
			// auth chain), which only the full build knows; without one
			// installed, the lean build's own status is still useful.
			if cmd.Name() != "status" || exeErr != nil {
				return nil
			}
			if _, err := os.Stat(full); err != nil {
				return nil
			}
		} else if exeErr != nil {
			return fmt.Errorf("source %s is turned on and this credchain was built without the cloud sources: finding the full build: %w", on[0], exeErr)
		}
		environ := os.Environ
		if a.Environ != nil {
			environ = a.Environ
		}
		if err := handOver(full, args, environ()); err != nil {
			if len(on) == 0 {
				return fmt.Errorf("running the full build %s for status: %w", full, err)
			}
			return fmt.Errorf("source %s is turned on and this credchain was built without the cloud sources; running the full build %s: %w (install credchain-cloud next to credchain, or use the full build as credchain)", on[0], full, err)
		}
		return nil
	}
}

// cloudBinaryPath is the full build's path next to the lean binary exe:
// credchain-cloud (credchain-cloud.exe on Windows).
func cloudBinaryPath(exe string) string {
	dir, base := filepath.Split(exe)
	ext := ""
	if strings.EqualFold(filepath.Ext(base), ".exe") {
		ext = filepath.Ext(base)
		base = strings.TrimSuffix(base, ext)
	}
	return filepath.Join(dir, base+"-cloud"+ext)
}
