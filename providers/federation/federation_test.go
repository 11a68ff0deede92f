package federation_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/providers/federation"
	"github.com/credchain/credchain/resolver"
)

const (
	ruleID   = "fdrl_01TESTRULE000000000000"
	orgID    = "1b4f0d2e-3c5a-4e6b-8f70-9a1b2c3d4e5f"
	audience = "https://api.anthropic.com"
	saID     = "svac_01TESTSERVICEACCOUNT0"
)

// idp is an OpenID provider stand-in: it signs identity tokens with an RSA
// key and publishes the public half as JWKS.
type idp struct {
	*httptest.Server
	key *rsa.PrivateKey
	kid string
}

// testKeys are generated once: RSA key generation is slow on a shared CI
// machine.
var testKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var keys [2]*rsa.PrivateKey
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

func newIDP(t *testing.T) *idp {
	t.Helper()
	key := testKeys()[0]
	p := &idp{key: key, kid: "test-key-1"}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/jwks" {
			http.NotFound(w, r)
			return
		}
		b64 := base64.RawURLEncoding.EncodeToString
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "alg": "RS256", "use": "sig", "kid": p.kid,
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	}))
	t.Cleanup(p.Close)
	return p
}

// sign returns an RS256 JWT with the given claims (iss is the IdP's URL
// unless claims set it).
func (p *idp) sign(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	if _, ok := claims["iss"]; !ok {
		claims["iss"] = p.URL
	}
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": p.kid}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func (p *idp) token(t *testing.T, now time.Time, sub, jti string) string {
	return p.sign(t, p.key, map[string]any{"sub": sub, "aud": audience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": jti})
}

// anthropic is a stand-in for the token exchange and the Messages API. The
// exchange validates the assertion the way the docs describe: RS256 with a
// key from the issuer's JWKS (fetched over HTTP), audience, iat/exp with
// 30 s leeway, the rule's issuer and subject prefix; anything else is
// invalid_grant.
type anthropic struct {
	*httptest.Server
	t      *testing.T
	trust  trust
	now    func() time.Time
	mu     sync.Mutex
	minted int
	jtis   []string
	bodies []map[string]any
	fail   int // answer this HTTP status to exchanges while non-zero
	reject map[string]bool
	api    []http.Header
}

// trust is what the federation rule accepts: the issuer, where its keys
// are, the audience, and a subject prefix.
type trust struct {
	issuer, jwksURL, audience, subjectPrefix string
}

func newAnthropic(t *testing.T, p *idp, now func() time.Time) *anthropic {
	return newAnthropicTrusting(t, trust{issuer: p.URL, jwksURL: p.URL + "/jwks", audience: audience, subjectPrefix: "system:serviceaccount:ci:"}, now)
}

func newAnthropicTrusting(t *testing.T, tr trust, now func() time.Time) *anthropic {
	a := &anthropic{t: t, trust: tr, now: now, reject: map[string]bool{}}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func (a *anthropic) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/oauth/token":
		a.exchange(w, r)
	case "/v1/messages":
		a.mu.Lock()
		a.api = append(a.api, r.Header.Clone())
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		ok := strings.HasPrefix(tok, "sk-ant-oat01-") && !a.reject[tok] && strings.Contains(r.Header.Get("anthropic-beta"), federation.BetaOAuth)
		a.mu.Unlock()
		if !ok {
			http.Error(w, `{"type":"error","error":{"type":"authentication_error"}}`, http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `{"type":"message"}`)
	default:
		http.NotFound(w, r)
	}
}

func oauthError(w http.ResponseWriter, code int, kind, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_01TEST")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": kind, "error_description": desc})
}

func (a *anthropic) exchange(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	fail := a.fail
	a.mu.Unlock()
	if fail != 0 {
		oauthError(w, fail, "server_error", "try later")
		return
	}
	beta := r.Header.Get("anthropic-beta")
	if r.Header.Get("Content-Type") != "application/json" || !strings.Contains(beta, federation.BetaOAuth) || !strings.Contains(beta, federation.BetaFederation) {
		oauthError(w, 400, "invalid_request", "content type or beta header")
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		oauthError(w, 400, "invalid_request", "not JSON")
		return
	}
	if body["grant_type"] != federation.GrantType || body["federation_rule_id"] != ruleID || body["organization_id"] != orgID {
		oauthError(w, 400, "invalid_request", fmt.Sprintf("fields %v", body))
		return
	}
	assertion, _ := body["assertion"].(string)
	claims, err := a.verify(assertion)
	if err != nil {
		oauthError(w, 400, "invalid_grant", "The identity token could not be validated")
		a.t.Logf("exchange refused: %v", err)
		return
	}
	a.mu.Lock()
	a.minted++
	n := a.minted
	jti, _ := claims["jti"].(string)
	a.jtis = append(a.jtis, jti)
	delete(body, "assertion")
	a.bodies = append(a.bodies, body)
	a.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": fmt.Sprintf("sk-ant-oat01-minted-%d", n), "token_type": "Bearer", "expires_in": 600, "scope": "workspace:developer",
	})
}

// verify checks an identity token against the IdP's JWKS.
func (a *anthropic) verify(jwt string) (map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	var header struct{ Alg, Kid string }
	var claims map[string]any
	for i, into := range []any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(raw, into) != nil {
			return nil, errors.New("bad JWT segment")
		}
	}
	if header.Alg != "RS256" {
		return nil, fmt.Errorf("alg %s", header.Alg)
	}
	resp, err := http.Get(a.trust.jwksURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var set struct{ Keys []struct{ Kid, N, E string } }
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, err
	}
	var pub *rsa.PublicKey
	for _, k := range set.Keys {
		if k.Kid == header.Kid {
			n, _ := base64.RawURLEncoding.DecodeString(k.N)
			e, _ := base64.RawURLEncoding.DecodeString(k.E)
			pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		}
	}
	if pub == nil {
		return nil, fmt.Errorf("kid %q not in the JWKS", header.Kid)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	now, leeway := a.now().Unix(), int64(30)
	exp, _ := claims["exp"].(float64)
	iat, _ := claims["iat"].(float64)
	sub, _ := claims["sub"].(string)
	switch {
	case claims["iss"] != a.trust.issuer:
		return nil, fmt.Errorf("iss %v", claims["iss"])
	case claims["aud"] != a.trust.audience:
		return nil, fmt.Errorf("aud %v", claims["aud"])
	case int64(exp)+leeway <= now:
		return nil, errors.New("expired")
	case int64(iat)-leeway > now:
		return nil, errors.New("iat in the future")
	case sub == "" || !strings.HasPrefix(sub, a.trust.subjectPrefix):
		return nil, fmt.Errorf("sub %q does not match the rule", sub)
	}
	return claims, nil
}

func (a *anthropic) set(f func(a *anthropic)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a)
}

func (a *anthropic) snapshot() (minted int, jtis []string, bodies []map[string]any, api []http.Header) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.minted, append([]string(nil), a.jtis...), append([]map[string]any(nil), a.bodies...), append([]http.Header(nil), a.api...)
}

// fixture is a hermetic federation setup: IdP, Anthropic stand-in, the
// variables, an identity token file.
type fixture struct {
	idp       *idp
	api       *anthropic
	tokenFile string
	clock     *testenv.FakeClock
}

func setup(t *testing.T) *fixture {
	t.Helper()
	home := testenv.Hermetic(t)
	f := &fixture{clock: testenv.NewFakeClock(time.Now().Truncate(time.Second))}
	f.idp = newIDP(t)
	f.api = newAnthropic(t, f.idp, f.clock.Now)
	f.tokenFile = filepath.Join(home, "token")
	f.write(t, f.idp.token(t, f.clock.Now(), "system:serviceaccount:ci:runner", "jti-1"))
	t.Setenv(federation.EnvRuleID, ruleID)
	t.Setenv(federation.EnvOrganizationID, orgID)
	t.Setenv(federation.EnvIdentityTokenFile, f.tokenFile)
	t.Setenv(federation.EnvBaseURL, f.api.URL)
	return f
}

// write replaces the token file the way kubelet rotates a projected token:
// a new file renamed over the old.
func (f *fixture) write(t *testing.T, tok string) {
	t.Helper()
	tmp := f.tokenFile + ".new"
	if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.tokenFile); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) source() *federation.Source {
	return federation.New(federation.Options{Now: f.clock.Now, HTTPClient: testenv.LoopbackHTTPClient()})
}

func (f *fixture) resolver(t *testing.T, events *testenv.Events) *resolver.Resolver {
	t.Helper()
	cfg := resolver.Config{Sources: []resolver.Source{f.source()}, Clock: f.clock}
	if events != nil {
		cfg.OnEvent = events.Add
	}
	r, err := resolver.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func callAPI(t *testing.T, r *resolver.Resolver, url string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/messages", strings.NewReader(`{"max_tokens":1}`))
	req.Header.Set("anthropic-beta", "prompt-caching-2024-07-31")
	resp, err := (&http.Client{Transport: r.Transport(nil)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestExchangeThroughTransport: the exchange carries the variables, the
// minted token reaches the API with the OAuth beta added to the caller's
// own betas, and with no workspace header.
func TestExchangeThroughTransport(t *testing.T) {
	f := setup(t)
	t.Setenv(federation.EnvServiceAccountID, saID)
	t.Setenv(federation.EnvWorkspaceID, "wrkspc_01TEST")
	r := f.resolver(t, nil)
	if code := callAPI(t, r, f.api.URL); code != http.StatusOK {
		t.Fatalf("API status %d", code)
	}
	minted, _, bodies, api := f.api.snapshot()
	if minted != 1 || bodies[0]["service_account_id"] != saID || bodies[0]["workspace_id"] != "wrkspc_01TEST" {
		t.Fatalf("minted %d, exchange bodies %v", minted, bodies)
	}
	h := api[0]
	if h.Get("Authorization") != "Bearer sk-ant-oat01-minted-1" || h.Get("anthropic-beta") != "prompt-caching-2024-07-31,"+federation.BetaOAuth || h.Get("anthropic-workspace-id") != "" {
		t.Fatalf("API request headers %v", h)
	}
	cred, _ := r.Resolve(context.Background())
	if !cred.Expiry.Equal(f.clock.Now().Add(600*time.Second)) || cred.Meta["rule"] != "…000000" || cred.Meta["mode"] != "env" {
		t.Fatalf("credential %v meta %v", cred, cred.Meta)
	}
}

// TestRotationRefreshAndFailure runs a resolver on a fake clock: the token
// file is rotated under it and the next (background, before expiry)
// exchange presents the new identity token; a failing exchange keeps the
// old minted token in service; the retry then succeeds.
func TestRotationRefreshAndFailure(t *testing.T) {
	f := setup(t)
	events := testenv.NewEvents()
	r := f.resolver(t, events)
	ctx := context.Background()
	first, err := r.Resolve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	events.Wait(t, resolver.EventRefreshed) // the first exchange
	f.write(t, f.idp.token(t, f.clock.Now(), "system:serviceaccount:ci:runner", "jti-2"))

	// A 600 s token is exchanged again well before it expires (the
	// scheduler's window; the SDKs' 120 s is later still).
	f.clock.Advance(301 * time.Second)
	events.Wait(t, resolver.EventRefreshed)
	second, _ := r.Resolve(ctx)
	_, jtis, _, _ := f.api.snapshot()
	if second.SameSecret(first) || len(jtis) != 2 || jtis[1] != "jti-2" {
		t.Fatalf("after rotation: token %v (first %v), identity tokens presented %v", second, first, jtis)
	}

	f.api.set(func(a *anthropic) { a.fail = http.StatusServiceUnavailable })
	f.clock.Advance(301 * time.Second)
	events.Wait(t, resolver.EventRefreshFailed)
	if kept, err := r.Resolve(ctx); err != nil || !kept.SameSecret(second) {
		t.Fatalf("while the exchange fails: %v, %v; want the previous token", kept, err)
	}
	if code := callAPI(t, r, f.api.URL); code != http.StatusOK {
		t.Fatalf("API with the kept token: %d", code)
	}
	f.api.set(func(a *anthropic) { a.fail = 0 })
	f.clock.Advance(2 * time.Minute)
	events.Wait(t, resolver.EventRefreshed)
	third, _ := r.Resolve(ctx)
	if third.SameSecret(second) || third.Token.Reveal() != "sk-ant-oat01-minted-3" {
		t.Fatalf("after recovery: %v", third)
	}
}

// TestReExchangeOn401: the API refuses a minted token; resolver.Transport
// exchanges once more and replays the request.
func TestReExchangeOn401(t *testing.T) {
	f := setup(t)
	f.api.set(func(a *anthropic) { a.reject["sk-ant-oat01-minted-1"] = true })
	r := f.resolver(t, nil)
	if code := callAPI(t, r, f.api.URL); code != http.StatusOK {
		t.Fatalf("API status %d", code)
	}
	minted, _, _, api := f.api.snapshot()
	if minted != 2 || len(api) != 2 || api[1].Get("Authorization") != "Bearer sk-ant-oat01-minted-2" {
		t.Fatalf("minted %d, API saw %d requests", minted, len(api))
	}
}

// TestProfile: an oidc_federation profile selected by active_config; the
// variables fill only what it leaves out.
func TestProfile(t *testing.T) {
	f := setup(t)
	dir := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "anthropic")
	if err := os.MkdirAll(filepath.Join(dir, "configs"), 0o755); err != nil {
		t.Fatal(err)
	}
	profile := fmt.Sprintf(`{"version":"1.0","organization_id":%q,"workspace_id":"wrkspc_PROFILE","authentication":{"type":"oidc_federation","federation_rule_id":%q,"identity_token":{"source":"file","path":%q}}}`, orgID, ruleID, f.tokenFile)
	must(t, os.WriteFile(filepath.Join(dir, "configs", "ci.json"), []byte(profile), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "active_config"), []byte("ci\n"), 0o644))
	for _, v := range []string{federation.EnvRuleID, federation.EnvOrganizationID, federation.EnvIdentityTokenFile} {
		t.Setenv(v, "")
	}
	t.Setenv(federation.EnvWorkspaceID, "wrkspc_ENV")
	t.Setenv(federation.EnvServiceAccountID, saID)
	src := f.source()
	if err := src.Probe(); err != nil {
		t.Fatalf("Probe with an active federation profile: %v", err)
	}
	cred, err := src.Fetch(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, bodies, _ := f.api.snapshot()
	if cred.Meta["mode"] != "profile ci" || bodies[0]["workspace_id"] != "wrkspc_PROFILE" || bodies[0]["service_account_id"] != saID {
		t.Fatalf("meta %v, exchange %v", cred.Meta, bodies)
	}
	must(t, os.Remove(filepath.Join(dir, "configs", "ci.json")))
	if err := src.Probe(); !errors.Is(err, resolver.ErrNotConfigured) {
		t.Fatalf("Probe without variables or profile: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBadInput: every mistake gets an error that names the variable (or
// file) to fix; a refused identity token is a login-required error.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, f *fixture)
		want    []string
		login   bool
	}{
		{"rule without organization", func(t *testing.T, f *fixture) { t.Setenv(federation.EnvOrganizationID, "") },
			[]string{"ANTHROPIC_FEDERATION_RULE_ID is set but ANTHROPIC_ORGANIZATION_ID is not"}, false},
		{"no identity token", func(t *testing.T, f *fixture) { t.Setenv(federation.EnvIdentityTokenFile, "") },
			[]string{"no identity token", "ANTHROPIC_IDENTITY_TOKEN_FILE", "ANTHROPIC_IDENTITY_TOKEN"}, false},
		{"unreadable token file", func(t *testing.T, f *fixture) { must(t, os.Remove(f.tokenFile)) },
			[]string{"ANTHROPIC_IDENTITY_TOKEN_FILE", "no such file"}, false},
		{"empty token file", func(t *testing.T, f *fixture) { f.write(t, "  ") },
			[]string{"ANTHROPIC_IDENTITY_TOKEN_FILE", "is empty"}, false},
		{"token file is not a JWT", func(t *testing.T, f *fixture) { f.write(t, "hello") },
			[]string{"ANTHROPIC_IDENTITY_TOKEN_FILE", "not a JWT"}, false},
		{"oversized token", func(t *testing.T, f *fixture) { f.write(t, "a.b."+strings.Repeat("c", 17<<10)) },
			[]string{"ANTHROPIC_IDENTITY_TOKEN_FILE", "at most 16384"}, false},
		{"missing named profile", func(t *testing.T, f *fixture) { t.Setenv(federation.EnvProfile, "nope") },
			[]string{"ANTHROPIC_PROFILE=nope", "no profile", "nope.json"}, false},
		{"invalid profile name", func(t *testing.T, f *fixture) { t.Setenv(federation.EnvProfile, "../etc") },
			[]string{"ANTHROPIC_PROFILE=../etc", "not valid"}, false},
		{"plain http to a remote host", func(t *testing.T, f *fixture) { t.Setenv(federation.EnvBaseURL, "http://api.example.test") },
			[]string{"ANTHROPIC_BASE_URL", "needs https"}, false},
		{"token signed by another key", func(t *testing.T, f *fixture) {
			other := testKeys()[1]
			f.write(t, f.idp.sign(t, other, map[string]any{"sub": "system:serviceaccount:ci:x", "aud": audience, "iat": f.clock.Now().Unix(), "exp": f.clock.Now().Add(time.Hour).Unix()}))
		}, []string{"the identity token was refused", "invalid_grant", "req_01TEST", ruleID}, true},
		{"wrong audience", func(t *testing.T, f *fixture) {
			f.write(t, f.idp.sign(t, f.idp.key, map[string]any{"sub": "system:serviceaccount:ci:x", "aud": "sts.amazonaws.com", "iat": f.clock.Now().Unix(), "exp": f.clock.Now().Add(time.Hour).Unix()}))
		}, []string{"the identity token was refused"}, true},
		{"expired identity token", func(t *testing.T, f *fixture) {
			past := f.clock.Now().Add(-2 * time.Hour)
			f.write(t, f.idp.sign(t, f.idp.key, map[string]any{"sub": "system:serviceaccount:ci:x", "aud": audience, "iat": past.Unix(), "exp": past.Add(time.Hour).Unix()}))
		}, []string{"the identity token was refused"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			tc.prepare(t, f)
			_, err := f.source().Fetch(context.Background(), nil)
			if err == nil {
				t.Fatal("Fetch succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if errors.Is(err, resolver.ErrLoginRequired) != tc.login || errors.Is(err, federation.ErrTokenRefused) != tc.login {
				t.Errorf("error %v: login required %v, want %v", err, errors.Is(err, resolver.ErrLoginRequired), tc.login)
			}
			if strings.Contains(err.Error(), "eyJ") {
				t.Errorf("error %q quotes the identity token", err)
			}
		})
	}
}
