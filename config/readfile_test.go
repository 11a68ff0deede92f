//go:build unix

package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/source/all"
)

// TestSettingsFileBounded: --config naming a FIFO, a device or a file over
// 1 MiB is refused at once instead of blocking or exhausting memory.
func TestSettingsFileBounded(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", 1<<20)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.yaml")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{fifo: "not a regular file", zero: "not a regular file", big: "larger than 1048576 bytes"} {
		_, err := config.Load(config.LoadOptions{File: file, Sources: all.Sources(), Getenv: func(string) string { return "" }, LookupEnv: func(string) (string, bool) { return "", false }})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", filepath.Base(file), err, want)
		}
	}
}
