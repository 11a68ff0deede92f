package oauthpkce_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/oauthpkce"
	"github.com/credchain/credchain/resolver"
)

// Environment of a child process (see runResolveChildren).
const (
	childEnv       = "OAUTHPKCE_TEST_CHILD"
	helperStore    = "OAUTHPKCE_TEST_STORE_DIR"
	helperIssuer   = "OAUTHPKCE_TEST_ISSUER"
	helperClient   = "OAUTHPKCE_TEST_CLIENT_ID"
	helperDuration = "OAUTHPKCE_TEST_DURATION"
)

// TestMain runs the test binary as a child process when childEnv names
// one (the os/exec idiom of re-running the test binary), else the tests.
func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "resolve-loop":
		os.Exit(childResolveLoop(os.Stdout))
	default:
		fmt.Fprintf(os.Stderr, "unknown child %q\n", os.Getenv(childEnv))
		os.Exit(2)
	}
}

// childResolveLoop keeps one long-lived resolver over the shared plaintext
// store, resolving every 20 ms with background refresh on, and prints a
// line per token it got ("HELPER TOKEN <hash> <expiry ns>") and per error
// ("HELPER ERR ...").
func childResolveLoop(w io.Writer) int {
	dur, _ := time.ParseDuration(os.Getenv(helperDuration))
	out := bufio.NewWriter(w)
	defer out.Flush()
	fail := func(format string, args ...any) {
		fmt.Fprintf(out, "HELPER ERR "+format+"\n", args...)
	}
	src, err := oauthpkce.New(oauthpkce.Config{Issuer: os.Getenv(helperIssuer), ClientID: os.Getenv(helperClient)})
	if err != nil {
		fail("%v", err)
		return 0
	}
	st, err := cache.Open(context.Background(), cache.Options{Backend: "plaintext", Dir: os.Getenv(helperStore)})
	if err != nil {
		fail("%v", err)
		return 0
	}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Store: st})
	if err != nil {
		fail("%v", err)
		return 0
	}
	last := ""
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(dur); time.Now().Before(end); <-tick.C {
		c, err := r.Resolve(context.Background())
		now := time.Now()
		if err != nil {
			fail("resolve: %v", err)
			continue
		}
		id := tokenID(c.Token.Reveal())
		if !c.Expiry.After(now) {
			fail("resolved token %s expired at %v (now %v)", id, c.Expiry, now)
		}
		if id != last {
			fmt.Fprintf(out, "HELPER TOKEN %s %d\n", id, c.Expiry.UnixNano())
			last = id
		}
	}
	if err := r.Close(); err != nil {
		fail("close: %v", err)
	}
	return 0
}

func tokenID(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:6])
}

// runResolveChildren runs n resolve-loop children for run against the
// login stored in the plaintext store dir, and returns every distinct token
// they saw (by tokenID). A child's error line or a child that did not keep
// refreshing (fewer than minTokens tokens) fails the test.
func runResolveChildren(t *testing.T, n int, dir, issuer, clientID string, run time.Duration, minTokens int) map[string]bool {
	t.Helper()
	env := append(os.Environ(), childEnv+"=resolve-loop", helperStore+"="+dir, helperIssuer+"="+issuer,
		helperClient+"="+clientID, helperDuration+"="+run.String())
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, n)
	errs := make([]error, n)
	ctx, cancel := context.WithTimeout(context.Background(), run+time.Minute)
	defer cancel()
	for i := range outs {
		cmd := exec.CommandContext(ctx, os.Args[0])
		cmd.Env = env
		cmd.Stdout = &outs[i]
		cmd.Stderr = &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = cmd.Wait() }()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, out := range outs {
		if errs[i] != nil {
			t.Errorf("process %d: %v\n%s", i, errs[i], out.String())
		}
		tokens := 0
		for _, line := range strings.Split(out.String(), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) >= 2 && f[0] == "HELPER" && f[1] == "ERR":
				t.Errorf("process %d: %s", i, line)
			case len(f) == 4 && f[0] == "HELPER" && f[1] == "TOKEN":
				seen[f[2]] = true
				tokens++
				if _, err := strconv.ParseInt(f[3], 10, 64); err != nil {
					t.Errorf("process %d: bad line %q", i, line)
				}
			}
		}
		if tokens < minTokens {
			t.Errorf("process %d saw %d tokens in %v; it did not keep refreshing:\n%s", i, tokens, run, out.String())
		}
	}
	return seen
}

// sourceFor builds a source from cfg after mod.
func sourceFor(t *testing.T, cfg oauthpkce.Config, mod func(*oauthpkce.Config)) *oauthpkce.Source {
	t.Helper()
	if mod != nil {
		mod(&cfg)
	}
	src, err := oauthpkce.New(cfg)
	if err != nil {
		t.Fatalf("oauthpkce.New: %v", err)
	}
	return src
}

// sharedLogin stores cred in a new plaintext store for child processes and
// returns its directory.
func sharedLogin(t *testing.T, src *oauthpkce.Source, cred *resolver.Credential) string {
	t.Helper()
	dir := t.TempDir()
	st, err := cache.Open(context.Background(), cache.Options{Backend: "plaintext", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r := newResolver(t, src, st, nil, func(c *resolver.Config) { c.NoBackgroundRefresh = true })
	if err := r.Store(context.Background(), cred); err != nil {
		t.Fatal(err)
	}
	return dir
}
