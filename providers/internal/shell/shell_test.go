package shell

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/testenv"
)

func TestRefresherSharesOneRunAndCoolsDown(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "runs")
	gate := filepath.Join(dir, "gate")
	// The command waits for the gate file, so every caller arrives while
	// it runs.
	line := "echo run >> " + count + "; while [ ! -e " + gate + " ]; do sleep 0.01; done"
	var mu sync.Mutex
	now := time.Unix(1_000_000, 0)
	r := &Refresher{Command: Command{Setting: "x.auth_refresh", Line: line}, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}}
	const callers = 8
	var wg sync.WaitGroup
	results := make(chan bool, callers)
	for range callers {
		wg.Go(func() {
			ran, err := r.Refresh(context.Background())
			if err != nil {
				t.Error(err)
			}
			results <- ran
		})
	}
	// Wait (with a deadline) for the command to start before opening the
	// gate, then for everyone to return.
	deadline := time.Now().Add(10 * time.Second)
	for testenv.CountLines(t, count) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(results)
	for ran := range results {
		if !ran {
			t.Error("a concurrent caller did not share the run")
		}
	}
	if n := testenv.CountLines(t, count); n != 1 {
		t.Fatalf("%d concurrent callers ran the command %d times, want 1", callers, n)
	}
	if ran, _ := r.Refresh(context.Background()); ran || testenv.CountLines(t, count) != 1 {
		t.Fatalf("ran again within the cool-down")
	}
	mu.Lock()
	now = now.Add(DefaultCooldown)
	mu.Unlock()
	if ran, _ := r.Refresh(context.Background()); !ran || testenv.CountLines(t, count) != 2 {
		t.Fatalf("did not run after the cool-down")
	}
}

// A command that outlives its timeout is killed with its whole pipeline:
// the sleep at the head of the pipe (which would run for 10 minutes) is
// gone, not merely the shell.
func TestRunTimeoutKillsTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	line := "sh -c 'echo $$ > " + pidFile + "; exec sleep 600' | cat"
	_, err := Run(context.Background(), Command{Setting: "x.cmd", Line: line, Timeout: 200 * time.Millisecond}, false, nil)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "x.cmd") {
		t.Fatalf("Run = %v, want ErrTimeout naming the setting", err)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		t.Fatalf("bad pid %q", data)
	}
	testenv.WaitProcessesGone(t, []int{pid}, 10*time.Second)
}

func TestRunKeepsStdoutOutOfErrors(t *testing.T) {
	out, err := Run(context.Background(), Command{Setting: "x.export", Line: "printf 'SECRET-%s\\n' STDOUT; echo visible >&2; exit 1"}, true, nil)
	if err == nil || strings.Contains(err.Error(), "SECRET-STDOUT") || !strings.Contains(err.Error(), "visible") {
		t.Fatalf("Run = %v: want stderr in the error and stdout kept out", err)
	}
	if string(out.Stdout) != "SECRET-STDOUT\n" {
		t.Fatalf("stdout = %q", out.Stdout)
	}
}

// TestRunScrubsAndRedacts: a refresh command does not inherit credchain's
// own secrets or the named variables, and what it shows or puts into an
// error has the named secrets redacted.
func TestRunScrubsAndRedacts(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	t.Setenv("CREDCHAIN_FILE_PASSWORD", "file-store-master-password-4321")
	t.Setenv("SOURCE_SECRET", "source-secret-value")
	var shown strings.Builder
	_, err := Run(context.Background(), Command{Setting: "x.refresh", ScrubEnv: []string{"SOURCE_SECRET"}, Secrets: []string{secret},
		Line: `echo "pw=${CREDCHAIN_FILE_PASSWORD:-none} src=${SOURCE_SECRET:-none} key=` + secret + `"`}, false, &shown)
	if err != nil || shown.String() != "pw=none src=none key=[REDACTED]\n" {
		t.Fatalf("Run = %v, shown %q", err, shown.String())
	}
	_, err = Run(context.Background(), Command{Setting: "x.refresh", Secrets: []string{secret}, Line: "echo " + secret + " >&2; exit 1"}, false, nil)
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Fatalf("Run = %v, want the failure with the secret redacted", err)
	}
}
