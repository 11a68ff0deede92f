//go:build integration

package oauthpkce_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
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
	const ttl = 4 * time.Second
	const run = 10 * time.Second
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: ttl})
	src := newSource(t, d, nil)
	start := time.Now() // before the login: the first token is issued after it
	cred := login(t, src, d.User(t, "grace"))
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
	// The cap on refresh calls is the number of token generations that fit
	// in the run, whatever the number of processes; it comes from the
	// refresh period, the time from a token's issue to the scheduler's
	// stale point (resolver's refreshTime), not from the token's TTL:
	//   - Dex answers expires_in = TTL - 1 s (whole seconds), and the
	//     client sets Expiry = receipt + expires_in, so a token's life is
	//     L = ttl - 1 s = 3 s, counted from no earlier than the receipt of
	//     the answer (IssuedAt is set when the answer is installed);
	//   - the stale point is Expiry - W for the refresh window W
	//     (resolver.DefaultRefreshWindow, 5 min: the children set none),
	//     but IssuedAt + L/2 when L < 2W, as here: period P = L/2 = 1.5 s.
	// So refresh k is sent no earlier than P after the answer to refresh
	// k-1, and refresh 1 no earlier than P after the login's answer, which
	// came after start: refresh k is sent at or after start + k·P, and
	// at most ⌊elapsed/P⌋ refreshes fit between start and now (the
	// children have exited, so no call is still to come). Rotation and
	// the store's lock make every generation one call, so more calls
	// than that means processes refreshed the same generation twice.
	life := ttl - time.Second
	period := life - resolver.DefaultRefreshWindow
	if life < 2*resolver.DefaultRefreshWindow {
		period = life / 2
	}
	elapsed := time.Since(start)
	maxCalls := int(elapsed / period)
	t.Logf("%d refresh calls, %d distinct tokens across 8 processes (at most %d generations of %v in %v)", len(calls), len(seen), maxCalls, period, elapsed)
	if len(calls) != len(seen)-1 {
		t.Errorf("%d refresh calls for %d new tokens: want exactly one call per new token", len(calls), len(seen)-1)
	}
	if len(calls) < 3 || len(calls) > maxCalls {
		t.Errorf("%d refresh calls in %v; want one per generation of %v (3..%d)", len(calls), elapsed, period, maxCalls)
	}
}
