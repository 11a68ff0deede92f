package oauthpkce_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// storedLogin is a credential as Login would have stored it.
func storedLogin(tokenURL string) *resolver.Credential {
	return &resolver.Credential{
		Kind: resolver.KindBearer, Token: resolver.NewSecret("at-old"), Refresh: resolver.NewSecret("rt-old-SECRET"),
		Expiry: time.Now().Add(time.Minute), Source: oauthpkce.Name,
		Meta: map[string]string{oauthpkce.MetaTokenURL: tokenURL, oauthpkce.MetaClientID: "cli", oauthpkce.MetaEmail: "a@example.com"},
	}
}

// desc200 is a provider's error_description of exactly 200 characters.
var desc200 = strings.Repeat("0123456789", 20)

// TestFetchOutcomes drives the refresh against token endpoints on
// 127.0.0.1 answering in every way that matters, and checks how each is
// reported to the resolver.
func TestFetchOutcomes(t *testing.T) {
	testenv.Hermetic(t)
	type want struct {
		loginRequired, temporary bool
		permanent                bool
		keep                     string // the rotated refresh token to keep despite the error
		retryAfter               time.Duration
		text                     string
		absent                   string // a text the error must not have
		refusedMeta              string // what the record notes of a refused refresh token
	}
	for _, tc := range []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   *want // nil: success
	}{
		{name: "rotates", status: 200, body: `{"access_token":"at-new","token_type":"bearer","expires_in":59,"refresh_token":"rt-new"}`},
		{name: "keeps the refresh token when none comes back", status: 200, body: `{"access_token":"at-new","token_type":"Bearer","expires_in":59}`},
		{name: "invalid_grant", status: 400, body: `{"error":"invalid_grant","error_description":"expired"}`, want: &want{loginRequired: true, text: "HTTP 400 invalid_grant: expired; the refresh token was refused, run credchain login", refusedMeta: "(HTTP 400 invalid_grant: expired)"}},
		{name: "invalid_grant without a description", status: 400, body: `{"error":"invalid_grant"}`, want: &want{loginRequired: true, text: "HTTP 400 invalid_grant; the refresh token", absent: "unexpected answer", refusedMeta: "(HTTP 400 invalid_grant)"}},
		{name: "an error without a code or description", status: 400, body: `{}`, want: &want{text: `HTTP 400: unexpected answer (content type "application/json")`}},
		{name: "500 cut short", status: 500, header: map[string]string{"Content-Length": "1000"}, body: `oops`, want: &want{temporary: true, text: "HTTP 500: the response is not a valid token response", absent: "retry after"}},
		{name: "invalid_request (Dex's reuse answer)", status: 400, body: `{"error":"invalid_request","error_description":"Refresh token is invalid or has already been claimed by another client."}`, want: &want{loginRequired: true, text: "invalid_request", refusedMeta: "(HTTP 400 invalid_request: Refresh token is invalid or has already been claimed by another client.)"}},
		{name: "invalid_client is not a login problem", status: 401, body: `{"error":"invalid_client"}`, want: &want{permanent: true, text: "HTTP 401 invalid_client"}},
		{name: "unauthorized_client", status: 400, body: `{"error":"unauthorized_client"}`, want: &want{permanent: true, text: "unauthorized_client"}},
		{name: "500", status: 500, body: `oops`, want: &want{temporary: true, text: "HTTP 500", absent: "retry after"}},
		{name: "429 with Retry-After", status: 429, header: map[string]string{"Retry-After": "17"}, body: `{"error":"slow_down"}`, want: &want{temporary: true, retryAfter: 17 * time.Second, text: "retry after 17s"}},
		{name: "garbage with 200", status: 200, header: map[string]string{"Content-Type": "text/html"}, body: `<html>login page</html>`, want: &want{permanent: true, text: "not a valid token response"}},
		{name: "no access token", status: 200, body: `{"token_type":"bearer"}`, want: &want{permanent: true, text: "token endpoint"}},
		{name: "not a bearer token", status: 200, body: `{"access_token":"x","token_type":"mac","expires_in":60}`, want: &want{text: `token_type is "MAC"`}},
		{name: "already expired", status: 200, body: `{"access_token":"x","token_type":"bearer","expires_in":-10}`, want: &want{text: "already expired"}},
		{name: "already expired, rotated refresh token kept", status: 200, body: `{"access_token":"x","token_type":"bearer","expires_in":-10,"refresh_token":"rt-rotated"}`, want: &want{text: "already expired", keep: "rt-rotated"}},
		{name: "no access token, rotated refresh token kept", status: 200, body: `{"token_type":"bearer","refresh_token":"rt-rotated"}`, want: &want{permanent: true, text: "token endpoint", keep: "rt-rotated"}},
		// sanitize keeps a provider's text of up to 200 characters whole and
		// cuts a longer one at 200 with an ellipsis.
		{name: "a 200-character description is kept whole", status: 400, body: `{"error":"invalid_grant","error_description":"` + desc200 + `"}`, want: &want{loginRequired: true, text: ": " + desc200 + "; the refresh token was refused", absent: "…", refusedMeta: "(HTTP 400 invalid_grant: " + desc200 + ")"}},
		{name: "a 201-character description is cut at 200", status: 400, body: `{"error":"invalid_grant","error_description":"` + desc200 + `Z"}`, want: &want{loginRequired: true, text: ": " + desc200 + "…; the refresh token was refused", absent: desc200 + "Z", refusedMeta: "(HTTP 400 invalid_grant: " + desc200 + "…)"}},
		// golang.org/x/oauth2 takes any 2xx as an answer: a 299 without an
		// access token still spent the old refresh token, so its rotated one
		// is kept.
		{name: "299 without an access token, rotated refresh token kept", status: 299, body: `{"token_type":"bearer","refresh_token":"rt-rotated"}`, want: &want{permanent: true, text: "HTTP 299", keep: "rt-rotated"}},
		// A 300 is not a success: its body is left to golang.org/x/oauth2,
		// so a body cut short is reported with the status, not as a
		// network failure.
		{name: "300 cut short", status: 300, header: map[string]string{"Content-Length": "1000"}, body: `oops`, want: &want{text: "HTTP 300: the response is not a valid token response", absent: "EOF"}},
		{name: "error echoing the refresh token", status: 400, body: `{"error":"invalid_grant","error_description":"rt-old-SECRET is bad"}`, want: &want{loginRequired: true, text: "[redacted] is bad", refusedMeta: "(HTTP 400 invalid_grant: [redacted] is bad)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var form url.Values
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm()
				form = r.PostForm
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				if w.Header().Get("Content-Type") == "" {
					w.Header().Set("Content-Type", "application/json")
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			src, err := oauthpkce.New(oauthpkce.Config{})
			if err != nil {
				t.Fatal(err)
			}
			prev := storedLogin(srv.URL + "/token")
			cred, err := src.Fetch(context.Background(), prev)
			if form.Get("grant_type") != "refresh_token" || form.Get("refresh_token") != "rt-old-SECRET" || form.Get("client_id") != "cli" {
				t.Errorf("request form %v: want a refresh_token grant with the stored refresh token and client id", form)
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				wantRT := "rt-new"
				if !strings.Contains(tc.body, "refresh_token") {
					wantRT = "rt-old-SECRET"
				}
				if cred.Token.Reveal() != "at-new" || cred.Refresh.Reveal() != wantRT || cred.Kind != resolver.KindBearer {
					t.Errorf("credential %v, want token at-new and refresh token %s", cred, wantRT)
				}
				if cred.Meta[oauthpkce.MetaEmail] != "a@example.com" || cred.Meta[oauthpkce.MetaTokenURL] != srv.URL+"/token" {
					t.Errorf("meta %v: the login's facts must carry over", cred.Meta)
				}
				if left := time.Until(cred.Expiry); left < 50*time.Second || left > time.Minute {
					t.Errorf("expiry in %v", left)
				}
				return
			}
			if err == nil {
				t.Fatalf("Fetch succeeded with %v", cred)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want.text) || !strings.Contains(msg, srv.URL+"/token") {
				t.Errorf("error %q: want it to name the token endpoint and say %q", msg, tc.want.text)
			}
			if tc.want.absent != "" && strings.Contains(msg, tc.want.absent) {
				t.Errorf("error %q: want no %q in it", msg, tc.want.absent)
			}
			if strings.Contains(msg, "rt-old-SECRET") {
				t.Errorf("error leaks the refresh token: %s", msg)
			}
			if got := errors.Is(err, resolver.ErrLoginRequired); got != tc.want.loginRequired {
				t.Errorf("login required = %v, want %v (%v)", got, tc.want.loginRequired, err)
			}
			if got := errors.Is(err, resolver.ErrPermanent); got != tc.want.permanent {
				t.Errorf("permanent = %v, want %v (%v)", got, tc.want.permanent, err)
			}
			var keep *resolver.KeepError
			switch {
			case errors.As(err, &keep) && tc.want.keep == "":
				t.Errorf("KeepError with %v for an answer without a new refresh token", keep.Keep)
			case tc.want.keep != "" && (keep == nil || keep.Keep.Refresh.Reveal() != tc.want.keep):
				t.Errorf("error %v does not keep the rotated refresh token %q", err, tc.want.keep)
			}
			var te *oauthpkce.TokenError
			if !errors.As(err, &te) || te.Temporary != tc.want.temporary {
				t.Errorf("TokenError temporary = %v, want %v", te != nil && te.Temporary, tc.want.temporary)
			}
			if te != nil {
				if got := te.RecordMeta()[oauthpkce.MetaRefreshRefused]; !strings.HasSuffix(got, tc.want.refusedMeta) || (got == "") != (tc.want.refusedMeta == "") {
					t.Errorf("record note of the refused refresh token %q; want it to end in %q", got, tc.want.refusedMeta)
				}
			}
			var ra resolver.RetryAfter
			if errors.As(err, &ra); ra == nil || ra.RetryAfter() != tc.want.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", ra, tc.want.retryAfter)
			}
		})
	}
}

// TestFetchWithoutUsableLogin covers what the resolver may hand Fetch.
func TestFetchWithoutUsableLogin(t *testing.T) {
	testenv.Hermetic(t)
	src, err := oauthpkce.New(oauthpkce.Config{ClientID: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Fetch(context.Background(), nil)
	if !errors.Is(err, resolver.ErrNotConfigured) || !strings.Contains(err.Error(), "credchain login") {
		t.Errorf("no login: %v, want not configured naming credchain login", err)
	}
	noRefresh := storedLogin("http://127.0.0.1:9/token")
	noRefresh.Refresh = resolver.Secret{}
	_, err = src.Fetch(context.Background(), noRefresh)
	if !errors.Is(err, resolver.ErrLoginRequired) {
		t.Errorf("no refresh token: %v, want login required", err)
	}
	// Connection refused: temporary, and it names the endpoint.
	dead := "http://127.0.0.1:" + strconv.Itoa(testenv.DeadPort(t)) + "/token"
	_, err = src.Fetch(context.Background(), storedLogin(dead))
	var te *oauthpkce.TokenError
	if !errors.As(err, &te) || !te.Temporary || errors.Is(err, resolver.ErrLoginRequired) || !strings.Contains(err.Error(), dead) {
		t.Errorf("connection refused: %v, want a temporary TokenError naming %s", err, dead)
	}
	// A stored endpoint that is not loopback must be https.
	_, err = src.Fetch(context.Background(), storedLogin("http://example.com/token"))
	if err == nil || !strings.Contains(err.Error(), "use https") {
		t.Errorf("plain-http remote endpoint: %v", err)
	}
	// No client id anywhere.
	bare, _ := oauthpkce.New(oauthpkce.Config{})
	nc := storedLogin(dead)
	delete(nc.Meta, oauthpkce.MetaClientID)
	if _, err := bare.Fetch(context.Background(), nc); err == nil || !strings.Contains(err.Error(), "oauth.client_id") {
		t.Errorf("no client id: %v", err)
	}
}

// TestSettingsErrors: bad or missing settings name the key and the fix.
func TestSettingsErrors(t *testing.T) {
	testenv.Hermetic(t)
	for _, tc := range []struct {
		cfg  oauthpkce.Config
		want string
	}{
		{oauthpkce.Config{Redirect: "popup"}, "oauth.redirect"},
		{oauthpkce.Config{Issuer: "ftp://x"}, "oauth.issuer"},
		{oauthpkce.Config{TokenURL: "http://auth.example.com/token"}, "use https"},
		{oauthpkce.Config{CallbackPort: 70000}, "oauth.callback_port"},
		{oauthpkce.Config{AuthParams: map[string]string{"code_challenge_method": "plain"}}, "cannot be overridden"},
		{oauthpkce.Config{Scopes: []string{"a b"}}, "oauth.scopes"},
		{oauthpkce.Config{PasteRedirectURI: "nope"}, "oauth.paste_redirect_uri"},
	} {
		if _, err := oauthpkce.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v, want an error naming %q", tc.cfg, err, tc.want)
		}
	}
	for _, tc := range []struct {
		cfg  oauthpkce.Config
		want string
	}{
		{oauthpkce.Config{Issuer: "https://idp.example.com"}, "oauth.client_id"},
		{oauthpkce.Config{ClientID: "cli"}, "oauth.issuer"},
		{oauthpkce.Config{ClientID: "cli", TokenURL: "https://idp.example.com/token"}, "oauth.authorize_url"},
		{oauthpkce.Config{ClientID: "cli", Redirect: oauthpkce.RedirectPaste, AuthorizeURL: "https://idp.example.com/a", TokenURL: "https://idp.example.com/t"}, "oauth.paste_redirect_uri"},
	} {
		src, err := oauthpkce.New(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = src.Login(context.Background(), oauthpkce.LoginOptions{Paste: strings.NewReader("")})
		if !errors.Is(err, oauthpkce.ErrMissingSettings) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Login with %+v: %v, want ErrMissingSettings naming %q", tc.cfg, err, tc.want)
		}
	}
	if src, _ := oauthpkce.New(oauthpkce.Config{}); src.Probe() == nil {
		t.Error("a source with no settings must not apply")
	}
}

// TestDiscoveryErrors: a wrong issuer, or a provider without S256, is
// refused before any browser opens.
func TestDiscoveryErrors(t *testing.T) {
	testenv.Hermetic(t)
	var doc string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, doc)
	}))
	defer srv.Close()
	for _, tc := range []struct{ doc, want string }{
		{`{"issuer":"https://other.example.com","authorization_endpoint":"` + srv.URL + `/a","token_endpoint":"` + srv.URL + `/t"}`, "not the configured oauth.issuer"},
		{`{"issuer":"` + srv.URL + `","authorization_endpoint":"` + srv.URL + `/a","token_endpoint":"` + srv.URL + `/t","code_challenge_methods_supported":["plain"]}`, "does not support PKCE with S256"},
		{`not json`, "not an OpenID provider configuration"},
		{`{"issuer":"` + srv.URL + `","token_endpoint":"` + srv.URL + `/t"}`, "authorization_endpoint"},
	} {
		doc = tc.doc
		src, _ := oauthpkce.New(oauthpkce.Config{Issuer: srv.URL, ClientID: "cli"})
		opened := false
		_, err := src.Login(context.Background(), oauthpkce.LoginOptions{OpenBrowser: func(context.Context, string) error { opened = true; return nil }})
		if err == nil || !strings.Contains(err.Error(), tc.want) || opened {
			t.Errorf("discovery %s: %v (browser opened: %v), want %q", tc.doc, err, opened, tc.want)
		}
	}
}

// TestLogoutRevokes: logout through the resolver posts the refresh token to
// the provider's RFC 7009 endpoint, then removes the record.
func TestLogoutRevokes(t *testing.T) {
	testenv.Hermetic(t)
	var mu sync.Mutex
	var revoked []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		revoked = append(revoked, r.PostForm)
		mu.Unlock()
	}))
	defer srv.Close()
	src, _ := oauthpkce.New(oauthpkce.Config{ClientID: "cli", RevocationURL: srv.URL + "/revoke"})
	st := cache.NewMemory()
	r := newResolver(t, src, st, nil, nil)
	if err := r.Store(context.Background(), storedLogin(srv.URL+"/token")); err != nil {
		t.Fatal(err)
	}
	removed, err := r.Logout(context.Background())
	if err != nil || len(removed) != 1 {
		t.Fatalf("Logout: %v %v", removed, err)
	}
	if len(revoked) != 1 || revoked[0].Get("token") != "rt-old-SECRET" || revoked[0].Get("token_type_hint") != "refresh_token" || revoked[0].Get("client_id") != "cli" {
		t.Errorf("revocation requests %v", revoked)
	}
	if keys, _ := st.Keys(context.Background()); len(keys) != 0 {
		t.Errorf("records still stored: %v", keys)
	}
	if _, err := st.Get(context.Background(), oauthpkce.Name); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("record still stored: %v", err)
	}
}

// TestDefaultScopes: with an issuer and no oauth.scopes, login asks for
// DefaultScopes, so the provider issues a refresh token.
func TestDefaultScopes(t *testing.T) {
	testenv.Hermetic(t)
	var base string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q}`, base, base+"/auth", base+"/token")
	}))
	defer srv.Close()
	base = srv.URL
	src, _ := oauthpkce.New(oauthpkce.Config{Issuer: base, ClientID: "cli"})
	ctx, cancel := context.WithCancel(context.Background())
	var got string
	_, err := src.Login(ctx, oauthpkce.LoginOptions{OpenBrowser: func(_ context.Context, u string) error {
		got = u
		cancel()
		return nil
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Login: %v, want the cancellation", err)
	}
	u, _ := url.Parse(got)
	if s := u.Query().Get("scope"); s != oauthpkce.DefaultScopes {
		t.Errorf("scope = %q, want %q", s, oauthpkce.DefaultScopes)
	}
}

func newResolver(t *testing.T, src resolver.Source, st cache.Store, events *testenv.Events, mod func(*resolver.Config)) *resolver.Resolver {
	t.Helper()
	cfg := resolver.Config{Sources: []resolver.Source{src}, Store: st, RetryMin: 100 * time.Millisecond, RetryMax: 400 * time.Millisecond}
	if events != nil {
		cfg.OnEvent = events.Add
	}
	if mod != nil {
		mod(&cfg)
	}
	return testenv.NewResolver(t, cfg)
}

func storedCred(t *testing.T, st cache.Store) *resolver.Credential {
	t.Helper()
	data, err := st.Get(context.Background(), oauthKey(t, st))
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	c, err := resolver.DecodeRecord(data)
	if err != nil {
		t.Fatalf("stored record: %v", err)
	}
	return c
}

// oauthKey is the key of the one oauth record in st (keyed by identity).
func oauthKey(t *testing.T, st cache.Store) string {
	t.Helper()
	keys, err := st.(cache.Lister).Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.HasPrefix(k, oauthpkce.Name+".") {
			return k
		}
	}
	t.Fatalf("no oauth record in the store (keys %v)", keys)
	return ""
}

// fakeJWT is an unsigned JWT with the given JSON claims (the refresh reads
// claims only for the record; it verifies nothing).
func fakeJWT(claims string) string {
	return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".sig"
}

// TestRefreshRecordsTheAnswer: what a successful refresh writes into the
// record besides the tokens: the notes about a missing refresh token go,
// the expiry falls back to the access token's exp claim, the scopes note
// follows the answer (or the settings when the record has none), and the
// id_token's subject and email replace the stored ones only when present.
func TestRefreshRecordsTheAnswer(t *testing.T) {
	testenv.Hermetic(t)
	exp := time.Now().Add(time.Hour).Unix()
	notes := map[string]string{
		oauthpkce.MetaRefresh: "refresh token refused", oauthpkce.MetaNoRefreshReason: "offline_access not granted",
		oauthpkce.MetaRefreshRefused: "2026-01-01T00:00:00Z (HTTP 400 invalid_grant)",
	}
	absent := "\x00absent" // want: no such key in the record
	for _, tc := range []struct {
		name    string
		scopes  []string          // oauth.scopes
		meta    map[string]string // added to the stored login's meta
		answer  string            // extra JSON members of the token response
		want    map[string]string // meta entries the new record must have (absent: must not)
		expiry  time.Time         // zero: none
		expires bool              // the answer has expires_in 3600
	}{
		{name: "notes about a missing refresh token go when it works", meta: notes, expires: true,
			want: map[string]string{oauthpkce.MetaRefresh: absent, oauthpkce.MetaNoRefreshReason: absent, oauthpkce.MetaRefreshRefused: absent}},
		{name: "notes go also when the refresh token rotates", meta: notes, answer: `"refresh_token":"rt-new",`, expires: true,
			want: map[string]string{oauthpkce.MetaRefresh: absent, oauthpkce.MetaNoRefreshReason: absent, oauthpkce.MetaRefreshRefused: absent}},
		// Without expires_in the expiry is the access token's exp claim,
		// when positive; exp 0 or none means no stated expiry (not one in
		// 1970, which would be refused as already expired).
		{name: "expiry from the access token's exp", answer: `"access_token":"` + fakeJWT(fmt.Sprintf(`{"exp":%d}`, exp)) + `",`, expiry: time.Unix(exp, 0)},
		{name: "exp 0 is no expiry", answer: `"access_token":"` + fakeJWT(`{"exp":0}`) + `",`},
		{name: "no exp is no expiry", answer: `"access_token":"` + fakeJWT(`{"sub":"x"}`) + `",`},
		{name: "expires_in wins over exp", answer: `"access_token":"` + fakeJWT(`{"exp":1}`) + `",`, expires: true},
		// Scopes: the answer's, else the settings' when the record has no
		// note yet, else the note stays.
		{name: "the answer's scope replaces the note", scopes: []string{"cfg"}, meta: map[string]string{oauthpkce.MetaScopes: "old"}, answer: `"scope":" openid  email ",`, expires: true,
			want: map[string]string{oauthpkce.MetaScopes: "openid email"}},
		{name: "an empty scope keeps the note", scopes: []string{"cfg"}, meta: map[string]string{oauthpkce.MetaScopes: "old"}, answer: `"scope":"",`, expires: true,
			want: map[string]string{oauthpkce.MetaScopes: "old"}},
		{name: "no scope keeps the note", scopes: []string{"cfg"}, meta: map[string]string{oauthpkce.MetaScopes: "old"}, expires: true,
			want: map[string]string{oauthpkce.MetaScopes: "old"}},
		{name: "no scope and no note: the settings' scopes", scopes: []string{"openid", "profile"}, expires: true,
			want: map[string]string{oauthpkce.MetaScopes: "openid profile"}},
		{name: "no scope, no note, no settings: no note", expires: true,
			want: map[string]string{oauthpkce.MetaScopes: absent}},
		// id_token: subject and email recorded when present.
		{name: "id_token with a subject", meta: map[string]string{oauthpkce.MetaSubject: "old-sub"}, answer: `"id_token":"` + fakeJWT(`{"sub":"new-sub","email":"b@example.com"}`) + `",`, expires: true,
			want: map[string]string{oauthpkce.MetaSubject: "new-sub", oauthpkce.MetaEmail: "b@example.com"}},
		{name: "id_token without a subject keeps the stored one", meta: map[string]string{oauthpkce.MetaSubject: "old-sub"}, answer: `"id_token":"` + fakeJWT(`{"email":"b@example.com"}`) + `",`, expires: true,
			want: map[string]string{oauthpkce.MetaSubject: "old-sub", oauthpkce.MetaEmail: "b@example.com"}},
		{name: "id_token without a subject records none", answer: `"id_token":"` + fakeJWT(`{"email":"b@example.com"}`) + `",`, expires: true,
			want: map[string]string{oauthpkce.MetaSubject: absent, oauthpkce.MetaEmail: "b@example.com"}},
		{name: "id_token without an email keeps the stored one", answer: `"id_token":"` + fakeJWT(`{"sub":"new-sub"}`) + `",`, expires: true,
			want: map[string]string{oauthpkce.MetaSubject: "new-sub", oauthpkce.MetaEmail: "a@example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{` + tc.answer + `"token_type":"bearer"`
			if !strings.Contains(tc.answer, `"access_token"`) {
				body += `,"access_token":"at-new"`
			}
			if tc.expires {
				body += `,"expires_in":3600`
			}
			body += `}`
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, body)
			}))
			defer srv.Close()
			src, err := oauthpkce.New(oauthpkce.Config{Scopes: tc.scopes})
			if err != nil {
				t.Fatal(err)
			}
			prev := storedLogin(srv.URL + "/token")
			for k, v := range tc.meta {
				prev.Meta[k] = v
			}
			cred, err := src.Fetch(context.Background(), prev)
			if err != nil {
				t.Fatalf("Fetch with answer %s: %v", body, err)
			}
			for k, want := range tc.want {
				got, ok := cred.Meta[k]
				switch {
				case want == absent && ok:
					t.Errorf("meta %s = %q; want none", k, got)
				case want != absent && got != want:
					t.Errorf("meta %s = %q; want %q", k, got, want)
				}
			}
			switch {
			case tc.expires:
				if left := time.Until(cred.Expiry); left < 59*time.Minute || left > time.Hour {
					t.Errorf("expiry in %v; want expires_in's hour", left)
				}
			case !cred.Expiry.Equal(tc.expiry):
				t.Errorf("expiry %v; want %v", cred.Expiry, tc.expiry)
			}
		})
	}
}

// TestRevokeEndpointAndClient: where Revoke posts and with which client id.
// The endpoint is the login's, else oauth.revocation_url, else the one the
// issuer's discovery names (consulted only when there is an issuer, and
// never over one already known); the client id is the login's, the
// configured one only when the login names none.
func TestRevokeEndpointAndClient(t *testing.T) {
	testenv.Hermetic(t)
	var mu sync.Mutex
	var posts []string // "path client_id"
	var base string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/openid-configuration" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"revocation_endpoint":%q}`,
				base, base+"/auth", base+"/token", base+"/revoke-discovered")
			return
		}
		_ = r.ParseForm()
		mu.Lock()
		posts = append(posts, r.URL.Path+" "+r.PostForm.Get("client_id"))
		mu.Unlock()
	}))
	defer srv.Close()
	base = srv.URL
	for _, tc := range []struct {
		name     string
		cfg      oauthpkce.Config
		meta     map[string]string // the stored login's meta
		want     string            // "path client_id" posted; "" for no request
		wantDisc bool
	}{
		{name: "discovered endpoint with an issuer", cfg: oauthpkce.Config{Issuer: base, ClientID: "cli"},
			meta: map[string]string{oauthpkce.MetaClientID: "cli"}, want: "/revoke-discovered cli"},
		{name: "the login's endpoint over discovery", cfg: oauthpkce.Config{Issuer: base, ClientID: "cli"},
			meta: map[string]string{oauthpkce.MetaClientID: "cli", oauthpkce.MetaRevokeURL: base + "/revoke-stored"}, want: "/revoke-stored cli"},
		{name: "the setting over discovery", cfg: oauthpkce.Config{Issuer: base, ClientID: "cli", RevocationURL: base + "/revoke-set"},
			meta: map[string]string{oauthpkce.MetaClientID: "cli"}, want: "/revoke-set cli"},
		{name: "no issuer, no endpoint: nothing to call", cfg: oauthpkce.Config{ClientID: "cli", TokenURL: base + "/token"},
			meta: map[string]string{oauthpkce.MetaClientID: "cli"}, want: ""},
		{name: "the login's client id over the setting", cfg: oauthpkce.Config{ClientID: "other", RevocationURL: base + "/revoke-set"},
			meta: map[string]string{oauthpkce.MetaClientID: "cli"}, want: "/revoke-set cli"},
		{name: "the setting's client id when the login names none", cfg: oauthpkce.Config{ClientID: "other", RevocationURL: base + "/revoke-set"},
			meta: map[string]string{}, want: "/revoke-set other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			posts = nil
			mu.Unlock()
			src, err := oauthpkce.New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			cred := storedLogin(base + "/token")
			cred.Meta = tc.meta
			if err := src.Revoke(context.Background(), cred); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case tc.want == "" && len(posts) != 0:
				t.Errorf("revocation requests %q; want none", posts)
			case tc.want != "" && (len(posts) != 1 || posts[0] != tc.want):
				t.Errorf("revocation requests %q; want [%q]", posts, tc.want)
			}
		})
	}
}

// TestRevokeErrorHidesTheToken: a failed revocation request reports the
// transport's error without the token it was sending, and keeps the cause
// for errors.Is.
func TestRevokeErrorHidesTheToken(t *testing.T) {
	testenv.Hermetic(t)
	cause := errors.New("connection reset")
	for _, tc := range []struct {
		name, text string // the transport's error text (after the cause)
	}{
		{name: "echoing the token", text: "while sending token=rt-old-SECRET"},
		{name: "plain", text: "by peer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := &http.Client{Transport: roundTrip(func(*http.Request) (*http.Response, error) {
				return nil, fmt.Errorf("%w %s", cause, tc.text)
			})}
			src, err := oauthpkce.New(oauthpkce.Config{ClientID: "cli", RevocationURL: "https://idp.example.com/revoke", HTTPClient: client})
			if err != nil {
				t.Fatal(err)
			}
			err = src.Revoke(context.Background(), storedLogin("https://idp.example.com/token"))
			if err == nil || strings.Contains(err.Error(), "rt-old-SECRET") || !errors.Is(err, cause) {
				t.Fatalf("Revoke: %v; want the cause, without the refresh token", err)
			}
			if want := strings.ReplaceAll(tc.text, "rt-old-SECRET", "[redacted]"); !strings.Contains(err.Error(), "connection reset "+want) {
				t.Errorf("Revoke: %v; want it to say %q", err, want)
			}
		})
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestIdentity: the identity names the issuer (or, without one, the
// authorize and token endpoints), the client and the scopes, leaving out
// what is not set.
func TestIdentity(t *testing.T) {
	for _, tc := range []struct {
		cfg  oauthpkce.Config
		want string
	}{
		{oauthpkce.Config{Issuer: "https://idp.example.com", ClientID: "cli", Scopes: []string{"openid", "email"}},
			"issuer=https://idp.example.com client_id=cli scopes=openid email"},
		// With an issuer, configured endpoints do not make another identity.
		{oauthpkce.Config{Issuer: "https://idp.example.com", ClientID: "cli", AuthorizeURL: "https://idp.example.com/a", TokenURL: "https://idp.example.com/t"},
			"issuer=https://idp.example.com client_id=cli"},
		{oauthpkce.Config{ClientID: "cli", AuthorizeURL: "https://idp.example.com/a", TokenURL: "https://idp.example.com/t", Scopes: []string{"x"}},
			"authorize_url=https://idp.example.com/a token_url=https://idp.example.com/t client_id=cli scopes=x"},
		{oauthpkce.Config{TokenURL: "https://idp.example.com/t"}, "token_url=https://idp.example.com/t"},
		{oauthpkce.Config{}, ""},
	} {
		src, err := oauthpkce.New(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := src.Identity(); got != tc.want {
			t.Errorf("Identity of %+v = %q; want %q", tc.cfg, got, tc.want)
		}
	}
}
