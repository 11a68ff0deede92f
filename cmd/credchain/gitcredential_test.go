package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/testenv"
)

func TestReadGitRequest(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[string]string
		err      string
	}{
		{"blank line ends", "protocol=https\nhost=h\n\nignored=1\n", map[string]string{"protocol": "https", "host": "h"}, ""},
		{"EOF ends", "protocol=https\r\nhost=h:8443", map[string]string{"protocol": "https", "host": "h:8443"}, ""},
		{"value with =", "password=a=b\n", map[string]string{"password": "a=b"}, ""},
		{"not key=value", "protocol=https\npassword hunter2\n", nil, "request line 2 (16 bytes) is not key=value"},
	} {
		got, err := readGitRequest(strings.NewReader(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("%s: %v, %v", tc.name, got, err)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s=%q, want %q", tc.name, k, got[k], v)
			}
		}
	}
}

// TestGitCredentialErase: erase refreshes only when git refused the
// credential credchain holds now, and answers nothing for other hosts.
func TestGitCredentialErase(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	counter := filepath.Join(dir, "n")
	helper := "n=$(cat '" + counter + "' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '" + counter + "'; echo git-token-$n"
	runs := func() string {
		b, _ := os.ReadFile(counter)
		return strings.TrimSpace(string(b))
	}
	env := map[string]string{"CREDCHAIN_API_KEY_HELPER": helper, "CREDCHAIN_API_KEY_HELPER_TTL": "7m", "CREDCHAIN_GIT_HOSTS": "git.example.test"}
	req := "protocol=https\nhost=git.example.test\nusername=u\npassword="

	r := runCLI(t, env, strings.NewReader(req+"git-token-0\n\n"), "git-credential", "erase")
	if r.code != 0 || r.out != "" || runs() != "1" {
		t.Fatalf("erase of an older password: %+v, helper runs %s; want only the resolve (1)", r, runs())
	}
	r = runCLI(t, env, strings.NewReader(req+"git-token-2\n\n"), "git-credential", "erase")
	if r.code != 0 || r.out != "" || runs() != "3" {
		t.Fatalf("erase of the current password: %+v, helper runs %s; want resolve + refresh (3)", r, runs())
	}
	r = runCLI(t, env, strings.NewReader("protocol=https\nhost=other.test\npassword=git-token-3\n\n"), "git-credential", "erase")
	if r.code != 0 || r.out != "" || runs() != "3" {
		t.Fatalf("erase for another host: %+v, helper runs %s; want none", r, runs())
	}
	// password_expiry_utc is when the helper's key is renewed: its TTL after
	// the helper ran, which happened between before and after.
	before := time.Now()
	r = runCLI(t, env, strings.NewReader("protocol=https\nhost=git.example.test\n\n"), "git-credential", "get")
	after := time.Now()
	head, expiry, _ := strings.Cut(r.out, "password_expiry_utc=")
	if r.code != 0 || head != "username=credchain\npassword=git-token-4\n" {
		t.Fatalf("get: %+v", r)
	}
	secs, err := strconv.ParseInt(strings.TrimSuffix(expiry, "\n"), 10, 64)
	if lo, hi := before.Add(7*time.Minute).Unix(), after.Add(7*time.Minute).Unix(); err != nil || secs < lo || secs > hi {
		t.Fatalf("password_expiry_utc=%q, want the key's renewal time within [%d, %d] (TTL 7m after the helper ran)", expiry, lo, hi)
	}
	r = runCLI(t, env, strings.NewReader("protocol=https\nhost=git.example.test\n\n"), "git-credential", "fetch")
	if r.code != exitUsage {
		t.Fatalf("unknown operation: %+v", r)
	}
}
