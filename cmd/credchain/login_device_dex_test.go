//go:build integration

package main

import (
	"bufio"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
)

// TestLoginDeviceCommandDex: the credchain binary's `login --device`
// against Dex: it prints Dex's verification URI and user code on stderr,
// the person approves at Dex's own pages, and the stored login serves
// `credchain token`.
func TestLoginDeviceCommandDex(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	storeDir := t.TempDir()
	user := d.User(t, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, itest.BuildCredchain(t), "login", "--device")
	cmd.Env = loginEnv(t, d, storeDir, "")
	var out testenv.SyncBuffer
	cmd.Stdout = &out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	uriLine := regexp.MustCompile(`^\s+(http\S+/device)$`)
	codeLine := regexp.MustCompile(`enter the code:\s+(\S+)`)
	var uri, code string
	var errText strings.Builder
	approved := make(chan string, 1)
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		errText.WriteString(line + "\n")
		if m := uriLine.FindStringSubmatch(line); m != nil {
			uri = m[1]
		}
		if m := codeLine.FindStringSubmatch(line); m != nil && uri != "" && code == "" {
			code = m[1]
			go func() {
				page, err := itest.DexDeviceApprove(ctx, uri, code, user)
				if err != nil {
					page = err.Error()
				}
				approved <- page
			}()
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("credchain login --device: %v\nstderr:\n%s", err, errText.String())
	}
	if code == "" {
		t.Fatalf("no user code on stderr:\n%s", errText.String())
	}
	if page := <-approved; !strings.Contains(page, "Login Successful") {
		t.Errorf("Dex's approval page: %q", page)
	}
	if o := out.String(); !strings.Contains(o, "Logged in as bob@example.com") || !strings.Contains(o, "refreshes it before then") {
		t.Errorf("stdout %q", o)
	}
	if rec := storedRecord(t, storeDir); rec.Refresh.IsZero() {
		t.Errorf("the stored device login has no refresh token")
	}
	res := runBounded(t, loginEnv(t, d, storeDir, ""), "token")
	if res.code != 0 || strings.TrimSpace(res.out) == "" {
		t.Errorf("credchain token after a device login: exit %d %q %s", res.code, res.out, res.err)
	}
}
