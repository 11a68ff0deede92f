//go:build linux

package apikey_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/apikey"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// Close does not wait for a helper run (there is nothing to store): it
// cancels it, the helper's whole process group ends, and Close returns
// without its timeout error.
func TestCloseEndsARunningHelper(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	script := filepath.Join(dir, "helper.sh")
	body := "#!/bin/sh\necho $$ > " + pidFile + ".tmp && mv " + pidFile + ".tmp " + pidFile + "\nsleep 60\necho sk-never-printed\n"
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(context.Background(), resolver.Config{
		Sources:      []resolver.Source{apikey.NewHelper(apikey.HelperOptions{Command: script, Timeout: time.Minute})},
		CloseTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	resolved := make(chan error, 1)
	go func() { _, err := r.Resolve(context.Background()); resolved <- err }()
	var pid int
	for deadline := time.Now().Add(30 * time.Second); pid == 0; {
		if data, err := os.ReadFile(pidFile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		} else if time.Now().After(deadline) {
			t.Fatal("the helper did not start")
		} else {
			time.Sleep(10 * time.Millisecond) // the helper's start is only observable by polling its file
		}
	}
	st, err := testenv.ReadProcStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close = %v, want nil (the helper run is cancelled, not waited for)", err)
	}
	testenv.WaitProcessGroupGone(t, st.PGID, 10*time.Second)
	if err := <-resolved; err == nil || errors.Is(err, resolver.ErrNoSource) {
		t.Fatalf("the Resolve waiting on the cancelled run = %v, want its error", err)
	}
}
