//go:build integration

package oauthpkce_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
)

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
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: ttl})
	src := newSource(t, d, nil)
	cred := login(t, src, d.User(t, "grace"))
	loggedIn := time.Now()
	dir := sharedLogin(t, src, cred)

	seen := runResolveChildren(t, 8, dir, d.Issuer, d.ClientID, loginScopes, run, 3)
	seen[tokenID(cred.Token.Reveal())] = true
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
