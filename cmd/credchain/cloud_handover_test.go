package main

import (
	"path/filepath"
	"testing"

	"github.com/credchain/credchain/config"
)

func TestCloudBinaryPath(t *testing.T) {
	tests := []struct{ exe, want string }{
		{filepath.FromSlash("/usr/local/bin/credchain"), filepath.FromSlash("/usr/local/bin/credchain-cloud")},
		{filepath.FromSlash("/opt/cc/credchain.exe"), filepath.FromSlash("/opt/cc/credchain-cloud.exe")},
		{filepath.FromSlash("/opt/cc/CREDCHAIN.EXE"), filepath.FromSlash("/opt/cc/CREDCHAIN-cloud.EXE")},
		{"credchain", "credchain-cloud"},
	}
	for _, tt := range tests {
		if got := cloudBinaryPath(tt.exe); got != tt.want {
			t.Errorf("cloudBinaryPath(%q) = %q, want %q", tt.exe, got, tt.want)
		}
	}
}

// The full build serves every command itself, cloud sources included: its
// hand-over hook must not even load the settings.
func TestCloudHandoverIsANoOpInTheFullBuild(t *testing.T) {
	if !config.CloudSourcesBuiltIn {
		t.Fatal("tests run the full build; the lean one is checked by .ci/startup-check.sh")
	}
	a := &App{Getenv: func(string) string { panic("the full build's hand-over hook read the environment") }}
	if err := a.cloudHandover([]string{"token"})(nil, nil); err != nil {
		t.Fatalf("cloudHandover in the full build: %v", err)
	}
}
