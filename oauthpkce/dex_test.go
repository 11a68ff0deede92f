//go:build integration

package oauthpkce_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/oauthpkce"
	"github.com/credchain/credchain/resolver"
)

var loginScopes = []string{"openid", "email", "profile", "offline_access"}

// browserPage is what the simulated browser saw on the callback page.
type browserPage struct {
	status int
	body   string
	err    error
}

// httpBrowser returns an OpenBrowser that logs user in with plain HTTP, as
// a browser would, in the background, and the channel its page arrives on.
func httpBrowser(t *testing.T, user itest.DexUser) (func(context.Context, string) error, <-chan browserPage) {
	t.Helper()
	pages := make(chan browserPage, 1)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	return func(ctx context.Context, authURL string) error {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body, err := itest.DexBrowserLogin(context.WithoutCancel(ctx), authURL, user)
			pages <- browserPage{status, body, err}
		}()
		return nil
	}, pages
}

func newSource(t *testing.T, d *itest.Dex, mod func(*oauthpkce.Config)) *oauthpkce.Source {
	t.Helper()
	return sourceFor(t, oauthpkce.Config{Issuer: d.Issuer, ClientID: d.ClientID, Scopes: loginScopes, Redirect: oauthpkce.RedirectLoopback}, mod)
}

// login logs user in through the loopback redirect and checks the page.
func login(t *testing.T, src *oauthpkce.Source, user itest.DexUser) *resolver.Credential {
	t.Helper()
	open, pages := httpBrowser(t, user)
	cred, err := src.Login(context.Background(), oauthpkce.LoginOptions{OpenBrowser: open, Timeout: time.Minute})
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	p := <-pages
	if p.err != nil || p.status != http.StatusOK || !strings.Contains(p.body, "Login complete") {
		t.Fatalf("callback page: status %d err %v body %q", p.status, p.err, p.body)
	}
	return cred
}

// userinfo asks Dex whether it accepts the access token (200) or not.
func userinfo(t *testing.T, d *itest.Dex, cred *resolver.Credential) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.Direct+"/dex/userinfo", nil)
	name, value, _ := cred.Header()
	req.Header.Set(name, value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestLoginSendsS256AndStoresTheLogin: a loopback login against Dex sends an
// S256 challenge, redeems the code with its verifier, and the resolver
// stores one record the next process can use.
func TestLoginSendsS256AndStoresTheLogin(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	src := newSource(t, d, nil)
	user := d.User(t, "alice")
	cred := login(t, src, user)

	auths := d.Proxy.AuthorizeRequests()
	if len(auths) != 1 {
		t.Fatalf("authorize requests = %d, want 1", len(auths))
	}
	q := auths[0]
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
		t.Errorf("authorize request: code_challenge_method=%q code_challenge=%q; want S256 and a 43-char challenge", q.Get("code_challenge_method"), q.Get("code_challenge"))
	}
	if len(q.Get("state")) < 43 {
		t.Errorf("state %q is shorter than 32 random bytes", q.Get("state"))
	}
	ru, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || ru.Scheme != "http" || ru.Hostname() != "127.0.0.1" || ru.Path != "/callback" {
		t.Errorf("redirect_uri = %q, want http://127.0.0.1:PORT/callback", q.Get("redirect_uri"))
	}
	calls := d.Proxy.TokenCalls("authorization_code")
	if len(calls) != 1 || !calls[0].Verifier || calls[0].Status != http.StatusOK {
		t.Fatalf("code exchange calls = %+v, want one 200 carrying code_verifier", calls)
	}

	if cred.Kind != resolver.KindBearer || cred.Token.IsZero() || cred.Refresh.IsZero() {
		t.Fatalf("credential = %v, want a bearer token with a refresh token", cred)
	}
	if got := cred.Meta[oauthpkce.MetaEmail]; got != user.Email {
		t.Errorf("meta email = %q, want %q", got, user.Email)
	}
	tokenURL := d.Issuer + "/token"
	if cred.Meta[oauthpkce.MetaTokenURL] != tokenURL || cred.Meta[oauthpkce.MetaClientID] != d.ClientID || cred.Meta[oauthpkce.MetaIssuer] != d.Issuer {
		t.Errorf("meta = %v, want token_url %s, client_id %s, issuer %s", cred.Meta, tokenURL, d.ClientID, d.Issuer)
	}
	if !strings.Contains(cred.Meta[oauthpkce.MetaScopes], "offline_access") {
		t.Errorf("meta scopes = %q", cred.Meta[oauthpkce.MetaScopes])
	}
	if left := time.Until(cred.Expiry); left < 50*time.Second || left > time.Minute {
		t.Errorf("expiry in %v, want about 59s", left)
	}
	if s := userinfo(t, d, cred); s != http.StatusOK {
		t.Errorf("userinfo with the new token: HTTP %d", s)
	}

	st := cache.NewMemory()
	r := newResolver(t, src, st, nil, nil)
	if err := r.Store(context.Background(), cred); err != nil {
		t.Fatal(err)
	}
	got := storedCred(t, st)
	if !got.SameSecret(cred) || got.Meta[oauthpkce.MetaTokenURL] != tokenURL {
		t.Fatalf("stored %v meta %v, want the login", got, got.Meta)
	}
	// A second process (a new resolver over the same store) serves it
	// without calling the token endpoint.
	r2 := newResolver(t, newSource(t, d, nil), st, nil, nil)
	c2, err := r2.Resolve(context.Background())
	if err != nil || !c2.SameSecret(cred) {
		t.Fatalf("second resolver: %v, %v", c2, err)
	}
	if n := len(d.Proxy.TokenCalls("refresh_token")); n != 0 {
		t.Errorf("refresh calls = %d, want 0", n)
	}
}

// TestRefreshAcrossLifetimes keeps resolving through several access-token
// lifetimes: every token handed out is unexpired and accepted by Dex, each
// rotation presents a new refresh token, and no refresh is refused.
func TestRefreshAcrossLifetimes(t *testing.T) {
	testenv.Hermetic(t)
	const ttl = 4 * time.Second
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: ttl})
	src := newSource(t, d, nil)
	cred := login(t, src, d.User(t, "bob"))
	st := cache.NewMemory()
	events := testenv.NewEvents()
	r := newResolver(t, src, st, events, nil)
	if err := r.Store(context.Background(), cred); err != nil {
		t.Fatal(err)
	}

	seen := map[string]bool{}
	deadline := time.Now().Add(3*ttl + ttl/2)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	checks := 0
	for time.Now().Before(deadline) {
		<-tick.C
		c, err := r.Resolve(context.Background())
		now := time.Now()
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if !c.Expiry.After(now) {
			t.Fatalf("Resolve returned a token that expired at %v (now %v)", c.Expiry, now)
		}
		if tok := c.Token.Reveal(); !seen[tok] {
			seen[tok] = true
			if s := userinfo(t, d, c); s != http.StatusOK {
				t.Fatalf("Dex refused a resolved token: userinfo HTTP %d", s)
			}
			checks++
		}
	}
	refreshes := d.Proxy.TokenCalls("refresh_token")
	// Refresh at half-life (about every 2s of a 3s token) for 14s: at least 5.
	if len(refreshes) < 5 {
		t.Fatalf("refresh calls = %d over %v with a %v token, want ≥ 5", len(refreshes), 3*ttl+ttl/2, ttl)
	}
	presented := map[string]bool{}
	for _, c := range refreshes {
		if c.Status != http.StatusOK || c.Error != "" {
			t.Errorf("refresh call %+v failed", c)
		}
		if presented[c.RefreshHash] {
			t.Errorf("refresh token %s presented twice", c.RefreshHash)
		}
		presented[c.RefreshHash] = true
	}
	if checks < len(refreshes) {
		t.Errorf("saw %d distinct tokens for %d refreshes", checks, len(refreshes))
	}
	// The store holds what is in memory: the newest rotated refresh token.
	c, _ := r.Resolve(context.Background())
	if got := storedCred(t, st); !got.SameSecret(c) {
		t.Errorf("store holds %v, memory %v", got, c)
	}
}

// TestReusedRefreshTokenNeedsLogin: Dex refuses a refresh token that was
// already used (invalid_request); the resolver reports login required, and
// only the dead refresh token is dropped from the store.
func TestReusedRefreshTokenNeedsLogin(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	src := newSource(t, d, nil)
	old := login(t, src, d.User(t, "carol"))

	// Something outside this store rotates the token first.
	if _, err := src.Fetch(context.Background(), old); err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	_, err := src.Fetch(context.Background(), old)
	var te *oauthpkce.TokenError
	if !errors.Is(err, resolver.ErrLoginRequired) || !errors.As(err, &te) || te.Code != "invalid_request" {
		t.Fatalf("replayed refresh token: %v, want a TokenError invalid_request wrapping ErrLoginRequired", err)
	}
	if strings.Contains(err.Error(), old.Refresh.Reveal()) {
		t.Fatal("the error contains the refresh token")
	}

	st := cache.NewMemory()
	events := testenv.NewEvents()
	r := newResolver(t, src, st, events, nil)
	if err := r.Store(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	// The API refuses the token: the resolver forces a refresh with the
	// dead refresh token.
	_, err = r.Invalidate(context.Background(), old)
	if !errors.Is(err, resolver.ErrLoginRequired) {
		t.Fatalf("Invalidate: %v, want login required", err)
	}
	events.WaitWithin(t, resolver.EventLoginRequired, 5*time.Second)
	got := storedCred(t, st)
	if !got.Refresh.IsZero() {
		t.Errorf("the dead refresh token is still stored")
	}
	if !got.Token.Equal(old.Token) || !got.Expiry.Equal(old.Expiry) || got.Meta[oauthpkce.MetaEmail] != old.Meta[oauthpkce.MetaEmail] {
		t.Errorf("stored %v meta %v; want the rest of the login kept", got, got.Meta)
	}
	if n := len(d.Proxy.TokenCalls("refresh_token")); n != 3 {
		t.Errorf("refresh calls = %d, want 3 (one good, two refused)", n)
	}
}

// TestTokenEndpointFailuresWhileValid: while the access token is valid, a
// token endpoint answering 500, 429 with Retry-After, or nothing
// at all keeps the old token served, is retried, and the next good answer
// recovers.
func TestTokenEndpointFailuresWhileValid(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fault      itest.Fault
		retryAfter string
		want       string // in the refresh_failed event's error
		minGap     time.Duration
	}{
		{"500", itest.Fault500, "", "HTTP 500 server_error", 0},
		{"429", itest.Fault429, "1", "HTTP 429", time.Second},
		{"hang", itest.FaultHang, "", "no answer in time", 0},
		// A garbage 200 is permanent (not retried until the stored login
		// changes): see TestFetchOutcomes and the resolver's tests.
	} {
		t.Run(tc.name, func(t *testing.T) {
			testenv.Hermetic(t)
			d := itest.StartDex(t, itest.DexOptions{TokenTTL: 20 * time.Second})
			src := newSource(t, d, func(c *oauthpkce.Config) { c.RequestTimeout = 500 * time.Millisecond })
			cred := login(t, src, d.User(t, "dave"))
			st := cache.NewMemory()
			events := testenv.NewEvents()
			r := newResolver(t, src, st, events, nil)
			d.Proxy.SetFault(tc.fault, tc.retryAfter)
			if err := r.Store(context.Background(), cred); err != nil {
				t.Fatal(err)
			}
			// Force the refresh now instead of waiting for half-life.
			kick(t, r, cred)
			first := events.WaitWithin(t, resolver.EventRefreshFailed, 10*time.Second)
			if first.Err == nil || !strings.Contains(first.Err.Error(), tc.want) || !strings.Contains(first.Err.Error(), d.Issuer+"/token") {
				t.Fatalf("refresh_failed error = %v, want it to name the token endpoint and say %q", first.Err, tc.want)
			}
			if first.NextRetry.IsZero() {
				t.Fatalf("refresh_failed event has no next retry: %+v", first)
			}
			// The event's time is taken just after NextRetry was computed.
			if gap := first.NextRetry.Sub(first.Time); gap < tc.minGap-100*time.Millisecond {
				t.Errorf("next retry in %v, want ≥ %v (Retry-After)", gap, tc.minGap)
			}
			// Still served while valid.
			c, err := r.Resolve(context.Background())
			if err != nil || !c.SameSecret(cred) {
				t.Fatalf("Resolve during the outage: %v, %v; want the old token", c, err)
			}
			second := events.WaitWithin(t, resolver.EventRefreshFailed, 10*time.Second)
			if second.Attempt < 2 {
				t.Errorf("second failure attempt = %d", second.Attempt)
			}
			d.Proxy.SetFault(itest.FaultNone, "")
			events.WaitWithin(t, resolver.EventRefreshed, 10*time.Second)
			c, err = r.Resolve(context.Background())
			if err != nil || c.SameSecret(cred) {
				t.Fatalf("after recovery: %v, %v; want a new token", c, err)
			}
			if got := storedCred(t, st); !got.SameSecret(c) {
				t.Errorf("store does not hold the recovered token")
			}
			calls := d.Proxy.TokenCalls("refresh_token")
			if last := calls[len(calls)-1]; last.Status != http.StatusOK || last.Injected != itest.FaultNone {
				t.Errorf("last refresh call %+v, want a real 200", last)
			}
			for _, c := range calls[:len(calls)-1] {
				if c.Injected != tc.fault {
					t.Errorf("call %+v reached Dex during the outage", c)
				}
			}
		})
	}
}

// kick starts a background refresh of a still-valid credential, by
// re-storing it with a refresh time of now and using it.
func kick(t *testing.T, r *resolver.Resolver, cred *resolver.Credential) {
	t.Helper()
	c := *cred
	c.RefreshAt = time.Now()
	if err := r.Store(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	// Storing a stale credential does not start a refresh; the next use
	// does.
	if _, err := r.Resolve(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestLoginStateMismatchKeepsWaiting: a callback with another state is
// refused with a 400 page, and the real one still completes the login.
func TestLoginStateMismatchKeepsWaiting(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	src := newSource(t, d, nil)
	user := d.User(t, "erin")
	type step struct {
		status int
		body   string
	}
	steps := make(chan step, 2)
	open := func(ctx context.Context, authURL string) error {
		go func() {
			res, err := itest.DexPasswordLogin(context.Background(), authURL, user)
			if err != nil || res.Redirect == nil {
				steps <- step{0, "dex login failed: " + errString(err)}
				return
			}
			forged := *res.Redirect
			q := forged.Query()
			q.Set("state", "forged-"+q.Get("state"))
			forged.RawQuery = q.Encode()
			for _, u := range []string{forged.String(), res.Redirect.String()} {
				s, b := get(u)
				steps <- step{s, b}
			}
		}()
		return nil
	}
	cred, err := src.Login(context.Background(), oauthpkce.LoginOptions{OpenBrowser: open, Timeout: time.Minute})
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	bad, good := <-steps, <-steps
	if bad.status != http.StatusBadRequest || !strings.Contains(bad.body, "Login failed") || !strings.Contains(bad.body, "still waiting") {
		t.Errorf("forged callback: %d %q", bad.status, bad.body)
	}
	if good.status != http.StatusOK || !strings.Contains(good.body, "Login complete") {
		t.Errorf("real callback: %d %q", good.status, good.body)
	}
	if cred.Token.IsZero() {
		t.Error("no token")
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func get(u string) (int, string) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestLoginAccessDenied: the provider's error redirect ends the login with
// an AuthorizeError, and the page shows its description HTML-escaped.
func TestLoginAccessDenied(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	src := newSource(t, d, nil)
	page := make(chan string, 1)
	open := func(ctx context.Context, authURL string) error {
		u, _ := url.Parse(authURL)
		q := u.Query()
		cb, _ := url.Parse(q.Get("redirect_uri"))
		cb.RawQuery = url.Values{"error": {"access_denied"}, "error_description": {`<script>alert("x")</script> declined`}, "state": {q.Get("state")}}.Encode()
		go func() { _, b := get(cb.String()); page <- b }()
		return nil
	}
	_, err := src.Login(context.Background(), oauthpkce.LoginOptions{OpenBrowser: open, Timeout: time.Minute})
	var ae *oauthpkce.AuthorizeError
	if !errors.As(err, &ae) || ae.Code != "access_denied" || !strings.Contains(err.Error(), "declined") {
		t.Fatalf("Login: %v, want AuthorizeError access_denied", err)
	}
	body := <-page
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") || !strings.Contains(body, "access_denied") {
		t.Errorf("error page not escaped or missing the error: %q", body)
	}
	if n := len(d.Proxy.TokenCalls("")); n != 0 {
		t.Errorf("token calls = %d, want 0", n)
	}
}

// TestLoginPortInUse: a configured callback port that is taken fails at
// once with ErrPortInUse naming the setting; in auto mode with a paste
// redirect the login continues with a pasted code instead.
func TestLoginPortInUse(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	src := newSource(t, d, func(c *oauthpkce.Config) { c.CallbackPort = port })
	opened := false
	_, err = src.Login(context.Background(), oauthpkce.LoginOptions{
		OpenBrowser: func(context.Context, string) error { opened = true; return nil },
		Timeout:     time.Minute,
	})
	if !errors.Is(err, oauthpkce.ErrPortInUse) || !strings.Contains(err.Error(), "oauth.callback_port") || !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Fatalf("Login: %v, want ErrPortInUse naming oauth.callback_port and the port", err)
	}
	// "At once" is observed as nothing having started: no browser opened,
	// no authorize request, no token call (a Login that waited for the
	// person would have opened the browser first).
	if opened {
		t.Error("browser opened; want the error before any browser")
	}
	if a, tc := len(d.Proxy.AuthorizeRequests()), len(d.Proxy.TokenCalls("")); a != 0 || tc != 0 {
		t.Errorf("%d authorize requests, %d token calls; want none", a, tc)
	}

	// auto + paste_redirect_uri: falls back to the paste flow.
	auto := newSource(t, d, func(c *oauthpkce.Config) {
		c.CallbackPort = port
		c.Redirect = oauthpkce.RedirectAuto
		c.PasteRedirectURI = oauthpkce.OOBRedirectURI
	})
	cred, out := pasteLogin(t, auto, d.User(t, "frank"), nil)
	if cred.Token.IsZero() || !strings.Contains(out, "continuing with a pasted code") {
		t.Fatalf("auto fallback: %v, output %q", cred, out)
	}
}

// pasteLogin logs in with a code pasted on Paste (Dex shows it on its
// out-of-band page); first is pasted before the real code.
func pasteLogin(t *testing.T, src *oauthpkce.Source, user itest.DexUser, first []string) (*resolver.Credential, string) {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { _ = pw.Close() })
	var out testenv.SyncBuffer
	open := func(ctx context.Context, authURL string) error {
		go func() {
			res, err := itest.DexPasswordLogin(context.Background(), authURL, user)
			if err != nil || res.OOBCode == "" {
				_ = pw.CloseWithError(errors.New("dex login failed"))
				t.Errorf("dex login: %v %+v", err, res)
				return
			}
			for _, l := range first {
				_, _ = io.WriteString(pw, l+"\n")
			}
			_, _ = io.WriteString(pw, res.OOBCode+"\n")
		}()
		return nil
	}
	cred, err := src.Login(context.Background(), oauthpkce.LoginOptions{OpenBrowser: open, Paste: pr, Out: &out, Timeout: time.Minute})
	if err != nil {
		t.Fatalf("Login: %v; output %s", err, out.String())
	}
	return cred, out.String()
}

// TestPasteFlow: redirect=paste sends Dex's out-of-band redirect URI; a
// pasted code with a wrong state is ignored, the real one logs in.
func TestPasteFlow(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	src := newSource(t, d, func(c *oauthpkce.Config) {
		c.Redirect = oauthpkce.RedirectPaste
		c.PasteRedirectURI = oauthpkce.OOBRedirectURI
	})
	cred, out := pasteLogin(t, src, d.User(t, "grace"), []string{"somecode#not-the-state"})
	if cred.Refresh.IsZero() || cred.Meta[oauthpkce.MetaEmail] != "grace@example.com" {
		t.Fatalf("credential %v meta %v", cred, cred.Meta)
	}
	if !strings.Contains(out, "state mismatch") {
		t.Errorf("output does not report the ignored paste: %q", out)
	}
	q := d.Proxy.AuthorizeRequests()[0]
	if q.Get("redirect_uri") != oauthpkce.OOBRedirectURI || q.Get("code_challenge_method") != "S256" {
		t.Errorf("authorize request %v", q)
	}
	if strings.Contains(out, cred.Token.Reveal()) {
		t.Error("output contains the token")
	}
}

// TestAutoModePastedCodeWins: in auto mode a code pasted on the terminal
// (copied from the browser's failed redirect) completes the login while the
// loopback listener is still waiting.
func TestAutoModePastedCodeWins(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	src := newSource(t, d, func(c *oauthpkce.Config) { c.Redirect = oauthpkce.RedirectAuto })
	pr, pw := io.Pipe()
	defer pw.Close()
	user := d.User(t, "heidi")
	open := func(ctx context.Context, authURL string) error {
		go func() {
			res, err := itest.DexPasswordLogin(context.Background(), authURL, user)
			if err != nil || res.Redirect == nil {
				t.Errorf("dex login: %v", err)
				_ = pw.Close()
				return
			}
			q := res.Redirect.Query()
			_, _ = io.WriteString(pw, q.Get("code")+"#"+q.Get("state")+"\n")
		}()
		return nil
	}
	cred, err := src.Login(context.Background(), oauthpkce.LoginOptions{OpenBrowser: open, Paste: pr, Timeout: time.Minute})
	if err != nil || cred.Meta[oauthpkce.MetaEmail] != user.Email {
		t.Fatalf("Login: %v, %v", cred, err)
	}
}

// TestLoginTimeout: nobody completes the login → ErrLoginTimeout, from
// LoginOptions.Timeout. The caller's context has a much later deadline:
// Login reports ErrLoginTimeout only when its own Timeout ended the wait
// (a cancelled or expired parent context is reported as such), so the
// error itself shows that the 300 ms bound, not the caller's, stopped it.
func TestLoginTimeout(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	src := newSource(t, d, nil)
	parent, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := src.Login(parent, oauthpkce.LoginOptions{Timeout: 300 * time.Millisecond})
	if !errors.Is(err, oauthpkce.ErrLoginTimeout) || !strings.Contains(err.Error(), "300ms") || !strings.Contains(err.Error(), "--timeout") {
		t.Fatalf("Login: %v, want ErrLoginTimeout naming the 300ms --timeout", err)
	}
	if parent.Err() != nil {
		t.Fatalf("the caller's 30 s deadline passed first (%v): the login's own Timeout did not end it", parent.Err())
	}
	if n := len(d.Proxy.TokenCalls("")); n != 0 {
		t.Errorf("token calls = %d, want 0", n)
	}
}

// TestChromiumLogin: a real headless Chromium fills Dex's login form and
// lands on credchain's callback page, and the login's token is stored.
func TestChromiumLogin(t *testing.T) {
	testenv.Hermetic(t)
	chromium := itest.Chromium(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	src := newSource(t, d, nil)
	user := d.User(t, "ivan")
	type result struct {
		text string
		err  error
	}
	page := make(chan result, 1)
	profile := t.TempDir()
	open := func(ctx context.Context, authURL string) error {
		go func() {
			text, err := itest.ChromiumDexLogin(context.Background(), chromium, profile, authURL, user)
			page <- result{text, err}
		}()
		return nil
	}
	cred, err := src.Login(context.Background(), oauthpkce.LoginOptions{OpenBrowser: open, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	p := <-page
	if p.err != nil || !strings.Contains(p.text, "Login complete") || !strings.Contains(p.text, "close this tab") {
		t.Fatalf("callback page in Chromium: %q, %v", p.text, p.err)
	}
	st := cache.NewMemory()
	r := newResolver(t, src, st, nil, nil)
	if err := r.Store(context.Background(), cred); err != nil {
		t.Fatal(err)
	}
	if got := storedCred(t, st); !got.SameSecret(cred) || got.Meta[oauthpkce.MetaEmail] != user.Email {
		t.Fatalf("stored %v meta %v", got, got.Meta)
	}
	if q := d.Proxy.AuthorizeRequests(); len(q) == 0 || q[0].Get("code_challenge_method") != "S256" {
		t.Errorf("authorize requests %v", q)
	}
}

// TestDeviceLoginDex: `login --device` against Dex's device flow (RFC
// 8628), approved through Dex's own verification page and password form.
// The poller honours Dex's 5 s interval (Dex answers a poll that comes
// sooner with slow_down), the login has a refresh token, and the stored
// login then refreshes like any other.
func TestDeviceLoginDex(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	src := newSource(t, d, nil)
	user := d.User(t, "alice")
	if ok, err := src.DeviceAvailable(context.Background()); !ok || err != nil {
		t.Fatalf("DeviceAvailable = %v, %v: Dex advertises a device endpoint", ok, err)
	}
	var out testenv.SyncBuffer
	pages := make(chan string, 1)
	codeLine := regexp.MustCompile(`enter the code:\s+(\S+)`)
	uriLine := regexp.MustCompile(`(?m)^\s+(http\S+/device)$`)
	cred, err := src.Login(context.Background(), oauthpkce.LoginOptions{Out: &out, Device: true, OnWaiting: func() {
		code, uri := codeLine.FindStringSubmatch(out.String()), uriLine.FindStringSubmatch(out.String())
		if code == nil || uri == nil {
			pages <- "no user code or verification URI in the output"
			return
		}
		go func() {
			page, err := itest.DexDeviceApprove(context.Background(), uri[1], code[1], user)
			if err != nil {
				page = err.Error()
			}
			pages <- page
		}()
	}})
	if err != nil {
		t.Fatalf("device login: %v\n%s", err, out.String())
	}
	if page := <-pages; !strings.Contains(page, "Login Successful") {
		t.Fatalf("Dex's approval page: %q", page)
	}
	if !strings.Contains(out.String(), "/device?user_code=") {
		t.Errorf("output lacks the complete verification URI:\n%s", out.String())
	}
	if cred.Refresh.IsZero() || cred.Meta[oauthpkce.MetaEmail] != user.Email {
		t.Fatalf("credential %v meta %v", cred, cred.Meta)
	}
	for _, c := range d.Proxy.TokenCalls("urn:ietf:params:oauth:grant-type:device_code") {
		if c.Error == "slow_down" {
			t.Errorf("device poll answered slow_down: %+v", c)
		}
	}
	st := cache.NewMemory()
	events := testenv.NewEvents()
	r := newResolver(t, src, st, events, nil)
	if err := r.Store(context.Background(), cred); err != nil {
		t.Fatal(err)
	}
	kick(t, r, cred)
	events.WaitWithin(t, resolver.EventRefreshed, 10*time.Second)
	c, err := r.Resolve(context.Background())
	if err != nil || c.SameSecret(cred) || userinfo(t, d, c) != http.StatusOK {
		t.Fatalf("after the refresh: %v, %v", c, err)
	}
}

// TestWrongClientDex: Dex shows its error page for an unknown client; the
// terminal has said that such a page means wrong settings and how to
// cancel, and cancelling ends the login.
func TestWrongClientDex(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	src := newSource(t, d, func(c *oauthpkce.Config) { c.ClientID = "not-registered" })
	page, out, err := cancelAtErrorPage(t, src)
	// Dex v2.45.1 answers an unknown client_id with a 404 error page.
	if page.status/100 != 4 || !strings.Contains(page.body, "client_id") {
		t.Errorf("Dex's page for an unknown client: %d %.300s", page.status, page.body)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Login: %v, want the cancellation", err)
	}
	if !strings.Contains(out, "error page") || !strings.Contains(out, "Ctrl-C") {
		t.Errorf("terminal output %q", out)
	}
}
