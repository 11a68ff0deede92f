//go:build integration

package federation_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/providers/federation"
	"github.com/credchain/credchain/resolver"
)

// dexIDToken signs user in at Dex (authorization code with PKCE, the
// password form driven over HTTP) and returns the ID token Dex issued.
func dexIDToken(t *testing.T, dex *itest.Dex, user string) (idToken string, discovery map[string]any) {
	t.Helper()
	ctx := context.Background()
	resp, err := http.Get(dex.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&discovery); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	verifier := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(verifier))
	redirect := "http://127.0.0.1:1/callback"
	q := url.Values{"client_id": {dex.ClientID}, "response_type": {"code"}, "scope": {"openid email"}, "redirect_uri": {redirect},
		"state": {"s"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	res, err := itest.DexPasswordLogin(ctx, discovery["authorization_endpoint"].(string)+"?"+q.Encode(), dex.User(t, user))
	if err != nil {
		t.Fatal(err)
	}
	code := res.Redirect.Query().Get("code")
	if code == "" {
		t.Fatalf("dex redirected to %s without a code", res.Redirect)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "client_id": {dex.ClientID}, "code_verifier": {verifier}}
	tr, err := http.PostForm(discovery["token_endpoint"].(string), form)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(tr.Body).Decode(&tok); err != nil || tok.IDToken == "" {
		t.Fatalf("dex token answer: HTTP %d, %v", tr.StatusCode, err)
	}
	return tok.IDToken, discovery
}

// TestDexIdentityToken: an ID token issued by a real OpenID provider (Dex)
// is exchanged by the source and validated by the exchange stand-in
// against Dex's published JWKS; the same token with a broken signature is
// refused as invalid_grant.
func TestDexIdentityToken(t *testing.T) {
	home := testenv.Hermetic(t)
	dex := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Hour})
	idToken, discovery := dexIDToken(t, dex, "alice")
	api := newAnthropicTrusting(t, trust{issuer: dex.Issuer, jwksURL: discovery["jwks_uri"].(string), audience: dex.ClientID}, time.Now)
	file := filepath.Join(home, "oidc-token")
	must(t, os.WriteFile(file, []byte(idToken), 0o600))
	t.Setenv(federation.EnvRuleID, ruleID)
	t.Setenv(federation.EnvOrganizationID, orgID)
	t.Setenv(federation.EnvIdentityTokenFile, file)
	t.Setenv(federation.EnvBaseURL, api.URL)
	src := federation.New(federation.Options{HTTPClient: testenv.LoopbackHTTPClient()})
	cred, err := src.Fetch(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cred.Token.Reveal() != "sk-ant-oat01-minted-1" || cred.Expiry.IsZero() {
		t.Fatalf("credential %v", cred)
	}
	parts := strings.Split(idToken, ".")
	sig := []byte(parts[2])
	sig[len(sig)/2] ^= 1
	must(t, os.WriteFile(file, []byte(parts[0]+"."+parts[1]+"."+string(sig)), 0o600))
	if _, err := src.Fetch(context.Background(), nil); !errors.Is(err, federation.ErrTokenRefused) || !errors.Is(err, resolver.ErrLoginRequired) {
		t.Fatalf("Fetch with a forged signature = %v, want the identity token refused", err)
	}
}
