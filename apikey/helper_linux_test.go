//go:build linux

package apikey_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/apikey"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// TestHelperSecretNotInArgvOrEnv: while a re-run of the helper is running
// (after a 401, with the previous key in hand), no process of its group
// carries a key in its command line or environment.
func TestHelperSecretNotInArgvOrEnv(t *testing.T) {
	testenv.Hermetic(t)
	t.Setenv("CREDCHAIN_TEST_INHERITED", "visible") // proves environ is really read
	bed := newHelperBed(t)
	bed.keys(2)
	r := newHelperResolver(t, apikey.HelperOptions{Command: bed.command, Timeout: 30 * time.Second}, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := r.Resolve(ctx)
	if err != nil || first.Token.Reveal() != key(1) {
		t.Fatalf("first Resolve = %v, %v", first, err)
	}

	gate := bed.gate(2)
	type result struct {
		cred *resolver.Credential
		err  error
	}
	done := make(chan result, 1)
	go func() {
		cred, err := r.Invalidate(ctx, first)
		done <- result{cred, err}
	}()
	w := bed.openGate(gate)
	st, err := testenv.ReadProcStat(bed.pid(2))
	if err != nil {
		t.Fatal(err)
	}
	pgid := st.PGID // the group of /bin/sh -c, which runs the script's sh
	members := testenv.ProcessGroup(pgid)
	if !slices.Contains(members, pgid) || len(members) < 2 {
		t.Fatalf("process group %d has members %v, want the shells and their cat", pgid, members)
	}
	sawShell, sawChild, sawInherited := false, false, false
	for _, pid := range members {
		cmdline := testenv.Cmdline(pid)
		environ := testenv.Environ(pid)
		sawShell = sawShell || strings.Contains(cmdline, "helper.sh")
		sawChild = sawChild || strings.Contains(cmdline, "gate-2")
		sawInherited = sawInherited || slices.Contains(environ, "CREDCHAIN_TEST_INHERITED=visible")
		for _, k := range []string{key(1), key(2)} {
			if strings.Contains(cmdline, k) {
				t.Errorf("process %d has a key in its command line: %q", pid, cmdline)
			}
			for _, kv := range environ {
				if strings.Contains(kv, k) {
					name, _, _ := strings.Cut(kv, "=")
					t.Errorf("process %d (%s) has a key in its environment variable %s", pid, cmdline, name)
				}
			}
		}
	}
	if !sawShell || !sawChild || !sawInherited {
		t.Fatalf("did not see the helper's processes properly (shell %v, child %v, environment %v): %v", sawShell, sawChild, sawInherited, members)
	}
	_ = w.Close()
	res := <-done
	if res.err != nil || res.cred.Token.Reveal() != key(2) {
		t.Fatalf("Invalidate = %v, %v; want key 2", res.cred, res.err)
	}
}
