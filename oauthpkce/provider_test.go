package oauthpkce_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/oauthpkce"
	"github.com/credchain/credchain/resolver"
)

// These tests run against testenv.OIDCProvider, an OpenID provider on
// 127.0.0.1 that behaves as certified providers do where Dex does not
// (strict consent, RFC 9207 iss, grant revocation on refresh-token reuse,
// PAR, device grant timing).

func opSource(t *testing.T, op *testenv.OIDCProvider, mod func(*oauthpkce.Config)) *oauthpkce.Source {
	t.Helper()
	return sourceFor(t, oauthpkce.Config{Issuer: op.Issuer, ClientID: op.ClientID, Redirect: oauthpkce.RedirectLoopback}, mod)
}

// opPage is the browser's view of a login against the provider.
type opPage struct {
	url    string
	status int
	body   string
	err    error
}

// opLogin logs in through the loopback redirect; the "browser" follows
// the provider's redirect. It returns the login's result and the page.
func opLogin(t *testing.T, src *oauthpkce.Source, out *testenv.SyncBuffer) (*resolver.Credential, opPage, error) {
	t.Helper()
	pages := make(chan opPage, 1)
	open := func(_ context.Context, authURL string) error {
		go func() {
			s, b, err := testenv.Browse(authURL)
			pages <- opPage{authURL, s, b, err}
		}()
		return nil
	}
	opts := oauthpkce.LoginOptions{OpenBrowser: open, Timeout: 30 * time.Second}
	if out != nil {
		opts.Out = out
	}
	cred, err := src.Login(context.Background(), opts)
	select {
	case p := <-pages:
		return cred, p, err
	case <-time.After(30 * time.Second):
		t.Fatal("the browser did not finish")
	}
	return nil, opPage{}, nil
}

// TestConsentPromptForOfflineAccess: a provider that grants offline_access
// only with prompt=consent issues a refresh token to the default settings;
// with the prompt turned off (by the setting, or by a discovery document
// that does not list consent) the login has none and says exactly why.
func TestConsentPromptForOfflineAccess(t *testing.T) {
	testenv.Hermetic(t)
	for _, tc := range []struct {
		name        string
		promptVals  []string
		mod         func(*oauthpkce.Config)
		wantPrompt  string
		wantRefresh bool
		wantReason  []string
	}{
		{name: "default sends consent", wantPrompt: "consent", wantRefresh: true},
		{name: "listed in prompt_values_supported", promptVals: []string{"none", "login", "consent"}, wantPrompt: "consent", wantRefresh: true},
		{name: "setting turns it off", mod: func(c *oauthpkce.Config) { c.NoConsentPrompt = true },
			wantReason: []string{`asked for "openid offline_access"`, `granted "openid"`, "did not grant offline_access", "oauth.no_consent_prompt"}},
		{name: "provider does not support consent", promptVals: []string{"none", "login"},
			wantReason: []string{"prompt_values_supported [none login]"}},
		{name: "authorize_params prompt wins", mod: func(c *oauthpkce.Config) { c.AuthParams = map[string]string{"prompt": "login"} },
			wantPrompt: "login", wantReason: []string{`oauth.authorize_params sets prompt="login"`}},
		{name: "offline_access not asked", mod: func(c *oauthpkce.Config) { c.Scopes = []string{"openid", "email"} },
			wantReason: []string{"offline_access was not requested", "oauth.scopes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{StrictConsent: true, PromptValues: tc.promptVals})
			src := opSource(t, op, tc.mod)
			cred, page, err := opLogin(t, src, nil)
			if err != nil || page.status != http.StatusOK {
				t.Fatalf("Login: %v; page %d %q", err, page.status, page.body)
			}
			if got := op.AuthorizeRequests()[0].Get("prompt"); got != tc.wantPrompt {
				t.Errorf("prompt = %q, want %q", got, tc.wantPrompt)
			}
			if got := !cred.Refresh.IsZero(); got != tc.wantRefresh {
				t.Fatalf("refresh token issued = %v, want %v", got, tc.wantRefresh)
			}
			if tc.wantRefresh {
				if cred.Meta[oauthpkce.MetaRefresh] != "" || cred.Meta[oauthpkce.MetaNoRefreshReason] != "" {
					t.Errorf("meta %v: no note about a missing refresh token expected", cred.Meta)
				}
				return
			}
			reason := cred.Meta[oauthpkce.MetaNoRefreshReason]
			for _, w := range tc.wantReason {
				if !strings.Contains(reason, w) {
					t.Errorf("reason %q lacks %q", reason, w)
				}
			}
			wantStatus := "no refresh token: expires at " + cred.Expiry.UTC().Format(time.RFC3339) + ", then login required"
			if got := cred.Meta[oauthpkce.MetaRefresh]; got != wantStatus {
				t.Errorf("meta refresh = %q, want %q", got, wantStatus)
			}
			// Status (through the resolver) shows it, and a refresh says why
			// it cannot happen.
			r := newResolver(t, src, cache.NewMemory(), nil, nil)
			if err := r.Store(context.Background(), cred); err != nil {
				t.Fatal(err)
			}
			if st := r.Status(context.Background()); st.Sources[0].Meta[oauthpkce.MetaRefresh] != wantStatus {
				t.Errorf("status meta = %v, want refresh=%q", st.Sources[0].Meta, wantStatus)
			}
			_, err = src.Fetch(context.Background(), cred)
			if !errors.Is(err, resolver.ErrLoginRequired) || !strings.Contains(err.Error(), "issued no refresh token at login") || !strings.Contains(err.Error(), reason) {
				t.Errorf("Fetch: %v, want login required with the reason", err)
			}
		})
	}
}

// TestIssParameter: RFC 9207. An advertised iss must be present and equal
// to the issuer; an iss naming another issuer is refused whether advertised
// or not. A refused response never reaches the token endpoint.
func TestIssParameter(t *testing.T) {
	testenv.Hermetic(t)
	for _, tc := range []struct {
		name      string
		advertise bool
		iss       testenv.IssMode
		wantErr   string
	}{
		{"advertised and sent", true, testenv.IssCorrect, ""},
		{"not advertised, not sent", false, testenv.IssCorrect, ""},
		{"advertised, missing", true, testenv.IssMissing, "has none"},
		{"advertised, wrong", true, testenv.IssWrong, `names issuer "https://attacker.example.com"`},
		{"not advertised, wrong", false, testenv.IssWrong, `names issuer "https://attacker.example.com"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{AdvertiseIss: tc.advertise, Iss: tc.iss})
			cred, page, err := opLogin(t, opSource(t, op, nil), nil)
			if tc.wantErr == "" {
				if err != nil || cred.Refresh.IsZero() {
					t.Fatalf("Login: %v %v", cred, err)
				}
				return
			}
			if !errors.Is(err, oauthpkce.ErrIssuerMismatch) || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "oauth: ") || strings.Contains(err.Error(), "oauth: oauth:") {
				t.Fatalf("Login: %v, want ErrIssuerMismatch saying %q with one prefix", err, tc.wantErr)
			}
			if !strings.Contains(page.body, "Login failed") || !strings.Contains(page.body, "wrong issuer") {
				t.Errorf("callback page %d %q", page.status, page.body)
			}
			if n := op.Stats(); n.RefreshCalls != 0 {
				t.Errorf("stats %+v", n)
			}
		})
	}
}

// TestNonce: the login sends a nonce and refuses an ID token that carries
// another one or none.
func TestNonce(t *testing.T) {
	testenv.Hermetic(t)
	for _, tc := range []struct {
		name    string
		mode    testenv.NonceMode
		wantErr string
	}{
		{"echoed", testenv.NonceEcho, ""},
		{"mismatch", testenv.NonceWrong, "not the one this login sent"},
		{"missing", testenv.NonceMissing, "carries no nonce"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{Nonce: tc.mode})
			cred, page, err := opLogin(t, opSource(t, op, nil), nil)
			if n := op.AuthorizeRequests()[0].Get("nonce"); len(n) < 43 {
				t.Errorf("nonce %q: want 32 random bytes", n)
			}
			if tc.wantErr == "" {
				if err != nil || cred.Meta[oauthpkce.MetaEmail] != "pat@example.com" {
					t.Fatalf("Login: %v %v", cred, err)
				}
				return
			}
			if !errors.Is(err, oauthpkce.ErrIDTokenInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Login: %v, want ErrIDTokenInvalid saying %q", err, tc.wantErr)
			}
			if !strings.Contains(page.body, "Login failed") {
				t.Errorf("callback page %q", page.body)
			}
		})
	}
}

// TestRefusedRefreshIsRemembered: a provider that revokes the whole grant
// when a refresh token is presented twice. The refusal goes through the
// resolver, which drops the refresh token and keeps when and how it was
// refused; a later process says so instead of "no refresh token".
func TestRefusedRefreshIsRemembered(t *testing.T) {
	testenv.Hermetic(t)
	op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{RevokeGrantOnReuse: true})
	src := opSource(t, op, nil)
	old, _, err := opLogin(t, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Another program rotates the token behind the store's back.
	newer, err := src.Fetch(context.Background(), old)
	if err != nil {
		t.Fatal(err)
	}
	st := cache.NewMemory()
	r := newResolver(t, src, st, nil, nil)
	if err := r.Store(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	_, err = r.Invalidate(context.Background(), old)
	if !errors.Is(err, resolver.ErrLoginRequired) || strings.Contains(err.Error(), "oauth: oauth:") {
		t.Fatalf("Invalidate: %v, want login required with one prefix", err)
	}
	if s := op.Stats(); s.Reuses != 1 || s.GrantsRevoked != 1 {
		t.Errorf("stats %+v: want one reuse that revoked the grant", s)
	}
	if _, err := src.Fetch(context.Background(), newer); !errors.Is(err, resolver.ErrLoginRequired) {
		t.Errorf("the rotated token of a revoked grant: %v, want login required", err)
	}
	got := storedCred(t, st)
	refused := got.Meta[oauthpkce.MetaRefreshRefused]
	if !got.Refresh.IsZero() || !strings.Contains(refused, "HTTP 400 invalid_grant") {
		t.Fatalf("stored record refresh=%v meta %v: want the refresh token gone and the refusal noted", !got.Refresh.IsZero(), got.Meta)
	}
	// A later process: status shows it, and a refresh says why it cannot.
	r2 := newResolver(t, opSource(t, op, nil), st, nil, nil)
	ss := r2.Status(context.Background()).Sources[0]
	if !strings.Contains(ss.Meta[oauthpkce.MetaRefresh], "refresh token refused by the provider at") {
		t.Errorf("status meta %v", ss.Meta)
	}
	// Once the access token has expired, a later process's Resolve says
	// when and how the provider refused, not "no refresh token".
	got.Expiry = time.Now().Add(-time.Minute)
	data, err := resolver.EncodeRecord(got, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Set(context.Background(), oauthKey(t, st), data); err != nil {
		t.Fatal(err)
	}
	r3 := newResolver(t, opSource(t, op, nil), st, nil, nil)
	_, err = r3.Resolve(context.Background())
	if !errors.Is(err, resolver.ErrLoginRequired) || !strings.Contains(err.Error(), "oauth: the provider refused the refresh token at "+refused) || strings.Contains(err.Error(), "oauth: oauth:") {
		t.Errorf("later run: %v, want it to say when and how the provider refused", err)
	}
}

// TestPushedAuthorizationChecksTheClient: where the provider takes pushed
// authorization requests, a wrong client id fails in the terminal before
// any browser opens; the right one logs in with a request_uri only.
func TestPushedAuthorizationChecksTheClient(t *testing.T) {
	testenv.Hermetic(t)
	op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{PAR: true})
	wrong := opSource(t, op, func(c *oauthpkce.Config) { c.ClientID = "not-registered" })
	opened := false
	_, err := wrong.Login(context.Background(), oauthpkce.LoginOptions{
		OpenBrowser: func(context.Context, string) error { opened = true; return nil }, Timeout: 30 * time.Second})
	if !errors.Is(err, oauthpkce.ErrClientRejected) || !strings.Contains(err.Error(), "invalid_client") || !strings.Contains(err.Error(), "oauth.client_id") || opened {
		t.Fatalf("Login with a wrong client: %v (browser opened: %v), want ErrClientRejected naming oauth.client_id before the browser", err, opened)
	}
	var out testenv.SyncBuffer
	cred, page, err := opLogin(t, opSource(t, op, nil), &out)
	if err != nil || cred.Refresh.IsZero() {
		t.Fatalf("Login: %v; page %q", err, page.body)
	}
	u, _ := url.Parse(page.url)
	if q := u.Query(); len(q) != 2 || q.Get("client_id") != op.ClientID || !strings.HasPrefix(q.Get("request_uri"), "urn:ietf:params:oauth:request_uri:") {
		t.Errorf("browser URL %s: want only client_id and request_uri", page.url)
	}
	if strings.Contains(out.String(), "Ctrl-C") {
		t.Errorf("a checked client needs no warning about error pages: %q", out.String())
	}
}

// TestWrongClientWithoutPAR: a provider without PAR shows its error page
// in the browser; the terminal has said what such a page means and how to
// cancel, and cancelling ends the login at once.
func TestWrongClientWithoutPAR(t *testing.T) {
	testenv.Hermetic(t)
	op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{})
	src := opSource(t, op, func(c *oauthpkce.Config) { c.ClientID = "not-registered" })
	p, out, err := cancelAtErrorPage(t, src)
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "Unknown client_id") {
		t.Errorf("browser page %d %q", p.status, p.body)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Login: %v, want the cancellation", err)
	}
	if !strings.Contains(out, "error page") || !strings.Contains(out, "oauth.client_id") || !strings.Contains(out, "Ctrl-C") {
		t.Errorf("terminal output %q: want the error-page notice naming the settings and Ctrl-C", out)
	}
}

// cancelAtErrorPage starts a login whose browser loads the authorization
// URL, and cancels the login once the page is there, as a person who reads
// the provider's error page and presses Ctrl-C. It returns the page, the
// terminal output and Login's error.
func cancelAtErrorPage(t *testing.T, src *oauthpkce.Source) (opPage, string, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testenv.SyncBuffer
	pages := make(chan opPage, 1)
	_, err := src.Login(ctx, oauthpkce.LoginOptions{Out: &out, Timeout: time.Minute, OpenBrowser: func(_ context.Context, u string) error {
		go func() {
			s, b, err := testenv.Browse(u)
			pages <- opPage{u, s, b, err}
			cancel()
		}()
		return nil
	}})
	return <-pages, out.String(), err
}

// deviceLogin runs a device login against op; approve decides what the
// person does with the user code (nil: nothing).
func deviceLogin(t *testing.T, op *testenv.OIDCProvider, src *oauthpkce.Source, approve func(userCode string)) (*resolver.Credential, string, error) {
	t.Helper()
	var out testenv.SyncBuffer
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case uc := <-op.UserCodes():
			if approve != nil {
				approve(uc)
			}
		case <-done:
		}
	}()
	cred, err := src.Login(context.Background(), oauthpkce.LoginOptions{Out: &out, Device: true})
	return cred, out.String(), err
}

// TestDeviceLogin: RFC 8628 against a provider that asks for a 1 s
// interval: the terminal shows the verification URI, the user code and the
// complete URI; no poll comes sooner than allowed; the login refreshes like
// any other afterwards.
func TestDeviceLogin(t *testing.T) {
	testenv.Hermetic(t)
	op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{Device: true})
	src := opSource(t, op, nil)
	var code string
	cred, out, err := deviceLogin(t, op, src, func(uc string) {
		code = uc
		if err := op.ApproveDevice(uc, true); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatalf("device login: %v\n%s", err, out)
	}
	for _, w := range []string{op.Issuer + "/device\n", "enter the code:  " + code, op.Issuer + "/device?user_code=" + code} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if cred.Refresh.IsZero() || cred.Meta[oauthpkce.MetaTokenURL] != op.Issuer+"/token" || cred.Meta[oauthpkce.MetaEmail] != "pat@example.com" {
		t.Fatalf("credential %v meta %v", cred, cred.Meta)
	}
	if s := op.Stats(); s.TooFastPolls != 0 || s.DevicePolls < 1 {
		t.Errorf("stats %+v: want polls at the interval", s)
	}
	next, err := src.Fetch(context.Background(), cred)
	if err != nil || next.SameSecret(cred) || next.Refresh.Equal(cred.Refresh) {
		t.Fatalf("refresh after a device login: %v %v", next, err)
	}
}

// TestDeviceLoginOutcomes: slow_down is honoured (the next poll waits 5 s
// more), and a denied, expired or unknown-client device login ends with
// the error that says so.
func TestDeviceLoginOutcomes(t *testing.T) {
	testenv.Hermetic(t)
	t.Run("slow_down", func(t *testing.T) {
		op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{Device: true, DeviceSlowDown: true})
		cred, out, err := deviceLogin(t, op, opSource(t, op, nil), func(uc string) { _ = op.ApproveDevice(uc, true) })
		if err != nil || cred.Token.IsZero() {
			t.Fatalf("device login: %v\n%s", err, out)
		}
		if s := op.Stats(); s.TooFastPolls != 0 || s.DevicePolls != 2 {
			t.Errorf("stats %+v: want 2 polls, none sooner than the interval plus slow_down's 5 s", s)
		}
	})
	t.Run("a failed poll", func(t *testing.T) {
		op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{Device: true, DeviceFailures: 1})
		cred, out, err := deviceLogin(t, op, opSource(t, op, nil), func(uc string) { _ = op.ApproveDevice(uc, true) })
		if err != nil || cred.Token.IsZero() || !strings.Contains(out, "HTTP 503") || !strings.Contains(out, "still waiting") {
			t.Fatalf("device login through a 503: %v\n%s", err, out)
		}
		if s := op.Stats(); s.DevicePolls != 2 || s.TooFastPolls != 0 {
			t.Errorf("stats %+v: want the failed poll and one more at the interval", s)
		}
	})
	t.Run("access_denied", func(t *testing.T) {
		op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{Device: true})
		_, _, err := deviceLogin(t, op, opSource(t, op, nil), func(uc string) { _ = op.ApproveDevice(uc, false) })
		var ae *oauthpkce.AuthorizeError
		if !errors.As(err, &ae) || ae.Code != "access_denied" {
			t.Fatalf("denied device login: %v, want AuthorizeError access_denied", err)
		}
	})
	t.Run("expired_token", func(t *testing.T) {
		// The provider's clock says the code expired before ours does.
		op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{Device: true})
		_, _, err := deviceLogin(t, op, opSource(t, op, nil), func(uc string) { _ = op.ExpireDevice(uc) })
		if !errors.Is(err, oauthpkce.ErrDeviceExpired) || !strings.Contains(err.Error(), "expired_token") {
			t.Fatalf("expired device login: %v, want ErrDeviceExpired from expired_token", err)
		}
	})
	t.Run("code expires unapproved", func(t *testing.T) {
		// The provider never says expired_token (that is the case above),
		// so the login ends by the client's own reading of expires_in.
		op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{Device: true, DeviceExpiresIn: 2 * time.Second, DeviceExpiryUnenforced: true})
		_, _, err := deviceLogin(t, op, opSource(t, op, nil), nil)
		if !errors.Is(err, oauthpkce.ErrDeviceExpired) || !strings.Contains(err.Error(), "nobody approved") {
			t.Fatalf("unapproved device login: %v, want ErrDeviceExpired", err)
		}
	})
	t.Run("wrong client", func(t *testing.T) {
		op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{Device: true})
		_, _, err := deviceLogin(t, op, opSource(t, op, func(c *oauthpkce.Config) { c.ClientID = "not-registered" }), nil)
		if !errors.Is(err, oauthpkce.ErrClientRejected) || !strings.Contains(err.Error(), "oauth.client_id") {
			t.Fatalf("device login with a wrong client: %v, want ErrClientRejected", err)
		}
	})
	t.Run("no device endpoint", func(t *testing.T) {
		op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{})
		src := opSource(t, op, nil)
		if ok, err := src.DeviceAvailable(context.Background()); ok || err != nil {
			t.Errorf("DeviceAvailable = %v, %v", ok, err)
		}
		_, _, err := deviceLogin(t, op, src, nil)
		if !errors.Is(err, oauthpkce.ErrNoDeviceEndpoint) || !strings.Contains(err.Error(), "device_authorization_endpoint") {
			t.Fatalf("device login without an endpoint: %v", err)
		}
	})
}

// TestProcessesGrantRevokingProvider: 8 processes share one login through a
// plaintext store, each with a long-lived resolver refreshing in the
// background, for several access-token lifetimes, against a provider that
// revokes the whole grant the moment any refresh token is presented twice.
// The store's lock and re-read keep every refresh token to one use: no
// grant is revoked, no refresh is refused, and each rotation is one call.
func TestProcessesGrantRevokingProvider(t *testing.T) {
	testenv.Hermetic(t)
	const ttl = 3 * time.Second // refreshed at half-life, 1.5 s
	const run = 10 * time.Second
	op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{TokenTTL: ttl, RevokeGrantOnReuse: true})
	src := opSource(t, op, nil)
	cred, _, err := opLogin(t, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := sharedLogin(t, src, cred)
	seen := runResolveChildren(t, 8, dir, op.Issuer, op.ClientID, nil, run, 4)
	seen[tokenID(cred.Token.Reveal())] = true
	s := op.Stats()
	t.Logf("provider saw %+v; %d distinct tokens across 8 processes", s, len(seen))
	if s.GrantsRevoked != 0 || s.Reuses != 0 || s.RefreshOK != s.RefreshCalls {
		t.Errorf("stats %+v: want no reuse, no revoked grant, every refresh answered", s)
	}
	if s.RefreshCalls < 4 || s.RefreshCalls != len(seen)-1 {
		t.Errorf("%d refresh calls for %d new tokens: want one call per new token, at least 4 generations", s.RefreshCalls, len(seen)-1)
	}
}
