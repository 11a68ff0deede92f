package oauthpkce_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/oauthpkce"
	"github.com/credchain/credchain/resolver"
)

// Environment of a helper process (see helperResolveLoop).
const (
	helperEnv      = "OAUTHPKCE_TEST_HELPER"
	helperStore    = "OAUTHPKCE_TEST_STORE_DIR"
	helperIssuer   = "OAUTHPKCE_TEST_ISSUER"
	helperClient   = "OAUTHPKCE_TEST_CLIENT_ID"
	helperDuration = "OAUTHPKCE_TEST_DURATION"
)

// TestMain dispatches a re-executed test binary to the helper-process body
// (helperEnv set) instead of running the tests.
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		helperResolveLoop()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helperResolveLoop is the body of the child processes of
// TestProcessesBackgroundRefresh. A child keeps one long-lived resolver over
// the shared plaintext store, resolving every 20 ms with background refresh
// on, and prints a line per token it got; failures are printed as HELPER ERR
// lines, which the parent checks.
func helperResolveLoop() {
	dur, _ := time.ParseDuration(os.Getenv(helperDuration))
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	fail := func(format string, args ...any) {
		fmt.Fprintf(out, "HELPER ERR "+format+"\n", args...)
	}
	src, err := oauthpkce.New(oauthpkce.Config{Issuer: os.Getenv(helperIssuer), ClientID: os.Getenv(helperClient)})
	if err != nil {
		fail("%v", err)
		return
	}
	st, err := cache.Open(context.Background(), cache.Options{Backend: "plaintext", Dir: os.Getenv(helperStore)})
	if err != nil {
		fail("%v", err)
		return
	}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Store: st})
	if err != nil {
		fail("%v", err)
		return
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
		sum := sha256.Sum256([]byte(c.Token.Reveal()))
		id := hex.EncodeToString(sum[:6])
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
}

// TestProcessesBackgroundRefresh: 8 processes, each with a long-lived
// resolver (background refresh at half-life, as an embedding program has),
// share one login through a plaintext store across several access-token
// lifetimes with rotation on. Their refresh timers fire together; under
// the store's lock one refreshes and the others adopt its token: one
// token-endpoint call per token generation, no refresh token presented
// twice, none refused, and no process ever holds an expired token.
func TestProcessesBackgroundRefresh(t *testing.T) {
	testenv.Hermetic(t)
	const ttl = 4 * time.Second // expires_in 3s: refresh every 1.5s
	const run = 10 * time.Second
	d := testenv.StartDex(t, testenv.DexOptions{TokenTTL: ttl})
	src := newSource(t, d, nil)
	cred := login(t, src, d.User(t, "grace"))
	loggedIn := time.Now()
	dir := t.TempDir()
	st, err := cache.Open(context.Background(), cache.Options{Backend: "plaintext", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r := newResolver(t, src, st, nil, func(c *resolver.Config) { c.NoBackgroundRefresh = true })
	if err := r.Store(context.Background(), cred); err != nil {
		t.Fatal(err)
	}

	env := append(os.Environ(), helperEnv+"=1", helperStore+"="+dir, helperIssuer+"="+d.Issuer,
		helperClient+"="+d.ClientID, helperDuration+"="+run.String())
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, 8)
	errs := make([]error, 8)
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

	sum := sha256.Sum256([]byte(cred.Token.Reveal()))
	seen := map[string]bool{hex.EncodeToString(sum[:6]): true}
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
		if tokens < 3 {
			t.Errorf("process %d saw %d tokens in %v of %v tokens; it did not keep refreshing:\n%s", i, tokens, run, ttl, out.String())
		}
	}
	calls := d.Proxy.TokenCalls("refresh_token")
	presented := map[string]bool{}
	for _, c := range calls {
		if c.Status != http.StatusOK || c.Error != "" {
			t.Errorf("refresh call refused: %+v", c)
		}
		if presented[c.RefreshHash] {
			t.Errorf("refresh token %s presented twice", c.RefreshHash)
		}
		presented[c.RefreshHash] = true
	}
	// Generations: a token is refreshed at half its 3s life, counted from
	// the login.
	maxCalls := int(time.Since(loggedIn)/(1500*time.Millisecond)) + 1
	t.Logf("%d refresh calls, %d distinct tokens across 8 processes (at most %d generations)", len(calls), len(seen), maxCalls)
	if len(calls) != len(seen)-1 {
		t.Errorf("%d refresh calls for %d new tokens: want exactly one call per new token", len(calls), len(seen)-1)
	}
	if len(calls) < 3 || len(calls) > maxCalls {
		t.Errorf("%d refresh calls in %v; want one per generation (3..%d)", len(calls), time.Since(loggedIn), maxCalls)
	}
}
