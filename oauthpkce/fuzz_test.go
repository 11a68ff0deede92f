package oauthpkce

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/resolver"
)

const fuzzState = "c3RhdGUtc3RhdGUtc3RhdGUtc3RhdGUtc3RhdGUtc3RhdGU"

// FuzzCallbackQuery: whatever arrives on the loopback callback, a code is
// accepted only with exactly the flow's state, and the page never echoes
// markup unescaped.
func FuzzCallbackQuery(f *testing.F) {
	for _, seed := range []string{
		"code=abc&state=" + fuzzState,
		"code=abc&state=wrong",
		"code=abc",
		"state=" + fuzzState,
		"code=&state=" + fuzzState,
		"code=a&code=b&state=" + fuzzState,
		"code=a&state=" + fuzzState + "&state=" + fuzzState,
		"error=access_denied&error_description=%3Cscript%3Ealert(1)%3C/script%3E&state=" + fuzzState,
		"error=access_denied",
		"code=a%00b&state=" + fuzzState,
		"code=a%20b&state=" + fuzzState,
		"%zz",
		";;;",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		code, authErr, err := parseCallback(q, fuzzState)
		if err == nil && authErr == nil {
			if len(q["state"]) != 1 || q.Get("state") != fuzzState {
				t.Fatalf("accepted %q without the right state", raw)
			}
			if code == "" || strings.ContainsAny(code, " \t\r\n\x00") || len(code) > maxCodeLen {
				t.Fatalf("accepted bad code %q", code)
			}
		}
		if authErr != nil && q.Get("state") != fuzzState {
			t.Fatalf("provider error accepted with state %q", q.Get("state"))
		}
		// The page for whatever happened escapes the provider's text.
		rec := httptest.NewRecorder()
		msg := ""
		if authErr != nil {
			msg = authErr.Error()
		} else if err != nil {
			msg = err.Error()
		}
		writePage(rec, http.StatusOK, false, msg)
		body := rec.Body.String()
		if strings.Contains(msg, "<") && !strings.Contains(body, html.EscapeString(msg)) {
			t.Fatalf("page does not escape %q", msg)
		}
		// Pasted forms agree with the query form.
		if err == nil && authErr == nil {
			if c, _, perr := parsePasted(code+"#"+fuzzState, fuzzState); perr != nil || c != code {
				t.Fatalf("pasted %q#state: %q, %v", code, c, perr)
			}
		}
	})
}

// fuzzTransport answers every request with the fuzzed response.
type fuzzTransport struct {
	status      int
	contentType string
	body        []byte
}

func (f fuzzTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	h := http.Header{}
	if f.contentType != "" {
		h.Set("Content-Type", f.contentType)
	}
	h.Set("Retry-After", "7")
	return &http.Response{StatusCode: f.status, Status: http.StatusText(f.status), Header: h,
		Body: io.NopCloser(strings.NewReader(string(f.body))), Request: r}, nil
}

const fuzzRefresh = "rt-SECRET-0123456789abcdef"

// FuzzTokenResponse: any token endpoint answer yields either a usable
// bearer credential or an error that names the endpoint and never the
// refresh token; login-required only for invalid_grant/invalid_request.
func FuzzTokenResponse(f *testing.F) {
	for _, s := range []struct {
		status int
		ct     string
		body   string
	}{
		{200, "application/json", `{"access_token":"at","token_type":"bearer","expires_in":59,"refresh_token":"rt2","id_token":"a.eyJzdWIiOiJ4IiwiZW1haWwiOiJ4QGV4YW1wbGUuY29tIn0.c"}`},
		{200, "application/json", `{"access_token":"at","token_type":"Bearer","expires_in":"3600"}`},
		{200, "application/json", `{"access_token":"at","token_type":"mac"}`},
		{200, "application/json", `{"access_token":"at","expires_in":-5}`},
		{200, "application/json", `{"access_token":"a t","token_type":"bearer"}`},
		{200, "application/json", `{"token_type":"bearer"}`},
		{200, "text/html", `<html>oops</html>`},
		{200, "application/x-www-form-urlencoded", `access_token=at&token_type=bearer&expires_in=10`},
		{400, "application/json", `{"error":"invalid_grant","error_description":"bad rt-SECRET-0123456789abcdef"}`},
		{400, "application/json", `{"error":"invalid_request"}`},
		{401, "application/json", `{"error":"invalid_client"}`},
		{429, "application/json", `{"error":"slow_down"}`},
		{500, "text/plain", `rt-SECRET-0123456789abcdef`},
		{503, "", ``},
		{200, "application/json", `{"access_token":"at","scope":"openid offline_access","expires_in":1e30}`},
	} {
		f.Add(s.status, s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, ct string, body []byte) {
		if status < 100 || status > 599 {
			return
		}
		const endpoint = "http://127.0.0.1:9/token"
		src, err := New(Config{HTTPClient: &http.Client{Transport: fuzzTransport{status, ct, body}}})
		if err != nil {
			t.Fatal(err)
		}
		prev := &resolver.Credential{Kind: resolver.KindBearer, Token: resolver.NewSecret("old"), Refresh: resolver.NewSecret(fuzzRefresh),
			Expiry: time.Now().Add(time.Minute), Meta: map[string]string{MetaTokenURL: endpoint, MetaClientID: "cli"}}
		cred, err := src.Fetch(context.Background(), prev)
		if err != nil {
			msg := err.Error()
			if strings.Contains(msg, fuzzRefresh) {
				t.Fatalf("error leaks the refresh token: %s", msg)
			}
			if !strings.Contains(msg, endpoint) {
				t.Fatalf("error does not name the token endpoint: %s", msg)
			}
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not a TokenError", err)
			}
			if errors.Is(err, resolver.ErrLoginRequired) && !loginRequiredCodes[te.Code] {
				t.Fatalf("login required for code %q", te.Code)
			}
			if (status == 429 || status >= 500) && !te.Temporary {
				t.Fatalf("HTTP %d not temporary: %v", status, err)
			}
			return
		}
		if cred.Kind != resolver.KindBearer || cred.Token.IsZero() || cred.Refresh.IsZero() {
			t.Fatalf("unusable credential %v", cred)
		}
		if status < 200 || status > 299 {
			t.Fatalf("HTTP %d accepted as a token", status)
		}
		if !cred.Expiry.IsZero() && !cred.Expiry.After(time.Now()) {
			t.Fatalf("expired credential accepted: %v", cred.Expiry)
		}
		if v := cred.Token.Reveal(); strings.ContainsAny(v, "\r\n\x00") {
			t.Fatalf("token with control characters accepted: %q", v)
		}
	})
}
