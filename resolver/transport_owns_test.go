package resolver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

func newResolverCfg(t *testing.T, cfg resolver.Config) *resolver.Resolver {
	t.Helper()
	if cfg.Clock == nil {
		cfg.Clock = testenv.NewFakeClock(t0)
	}
	return testenv.NewResolver(t, cfg)
}

// rotating hands out credentials of kind whose secret ends in the fetch
// number: "secret-1-...", "secret-2-...".
func rotating(name string, kind resolver.Kind) *fakeSource {
	return &fakeSource{name: name, fetch: func(_ context.Context, _ *resolver.Credential, n int) (*resolver.Credential, error) {
		c := &resolver.Credential{Kind: kind, Token: resolver.NewSecret(fmt.Sprintf("secret-%d-abcdefgh", n))}
		if kind == resolver.KindAWS {
			c.Token = resolver.Secret{}
			c.AWS = &resolver.AWSKeys{AccessKeyID: fmt.Sprintf("AKIDNUMBER%d", n), SecretAccessKey: resolver.NewSecret(fmt.Sprintf("aws-secret-%d", n)), Region: "us-east-1"}
		}
		return c, nil
	}}
}

// declaring is a source that declares its own rejection statuses, as the
// OAuth login does.
type declaring struct{ *fakeSource }

func (declaring) RejectionStatuses() []int { return []int{401, 403} }

// fakeSigner signs like SigV4 does: it hashes the body through GetBody and
// puts the hash and the key id in headers.
type fakeSigner struct{}

func (fakeSigner) Sign(_ context.Context, req *http.Request, cred *resolver.Credential) error {
	h := sha256.New()
	if req.GetBody != nil {
		b, err := req.GetBody()
		if err != nil {
			return err
		}
		_, _ = io.Copy(h, b)
		_ = b.Close()
	}
	req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(h.Sum(nil)))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+cred.AWS.AccessKeyID+"/20261202/us-east-1/bedrock/aws4_request")
	return nil
}

var credentialHeaders = []string{"Authorization", "X-Api-Key", "Api-Key", "X-Amz-Security-Token", "X-Amz-Date", "X-Amz-Content-Sha256"}

// The transport owns authentication: whatever credential headers the caller
// (or an SDK) set, exactly the resolved credential goes out.
func TestTransportRemovesCallerCredentialHeaders(t *testing.T) {
	stray := map[string]string{
		"placeholder API key":   "X-Api-Key",
		"stray auth token":      "Authorization",
		"Azure-style api-key":   "Api-Key",
		"AWS session token":     "X-Amz-Security-Token",
		"AWS date":              "X-Amz-Date",
		"AWS payload hash":      "X-Amz-Content-Sha256",
		"lower-case x-api-key":  "x-api-key",
		"lower-case authorizat": "authorization",
	}
	for _, kind := range []resolver.Kind{resolver.KindAPIKey, resolver.KindBearer, resolver.KindGoogle} {
		for name, header := range stray {
			t.Run(string(kind)+"/"+name, func(t *testing.T) {
				got := make(chan http.Header, 1)
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
				defer srv.Close()
				r := newResolverCfg(t, resolver.Config{Sources: []resolver.Source{rotating("s", kind)}})
				req, _ := http.NewRequest("GET", srv.URL, nil)
				req.Header[header] = []string{"caller-value"} // as set, not canonicalised
				resp, err := (&http.Client{Transport: r.Transport(nil)}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				h := <-got
				var present []string
				for _, c := range credentialHeaders {
					for _, v := range h.Values(c) {
						present = append(present, c+": "+v)
					}
				}
				want := "X-Api-Key: secret-1-abcdefgh"
				if kind != resolver.KindAPIKey {
					want = "Authorization: Bearer secret-1-abcdefgh"
				}
				if len(present) != 1 || present[0] != want {
					t.Fatalf("credential headers on the wire = %q, want exactly [%q]", present, want)
				}
				if v := req.Header[header]; len(v) != 1 || v[0] != "caller-value" {
					t.Fatal("the caller's request was modified")
				}
			})
		}
	}
}

// sharedReaderRequest builds a request whose GetBody rewinds and returns one
// shared reader, as anthropic-sdk-go's bedrock middleware does.
func sharedReaderRequest(t *testing.T, url string, body []byte) *http.Request {
	t.Helper()
	reader := bytes.NewReader(body)
	req, err := http.NewRequest("POST", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Body = io.NopCloser(reader)
	req.GetBody = func() (io.ReadCloser, error) {
		_, err := reader.Seek(0, io.SeekStart)
		return io.NopCloser(reader), err
	}
	req.ContentLength = int64(len(body))
	return req
}

// A signer that hashes the body through GetBody must not leave the wire an
// empty body when GetBody hands back one shared reader (issue 11, item 2).
func TestTransportSignedBodyIntactWithSharedReaderGetBody(t *testing.T) {
	body := []byte(`{"model":"claude","max_tokens":16,"messages":[{"role":"user","content":"hello"}]}`)
	type seen struct {
		body []byte
		hash string
	}
	got := make(chan seen, 2)
	var refuse atomic.Bool
	refuse.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("server read: %v", err)
		}
		got <- seen{b, r.Header.Get("X-Amz-Content-Sha256")}
		if refuse.Swap(false) {
			w.WriteHeader(http.StatusForbidden) // first key refused: the retry reads GetBody again
		}
	}))
	defer srv.Close()
	r := newResolverCfg(t, resolver.Config{Sources: []resolver.Source{rotating("bedrock", resolver.KindAWS)}, Signers: map[resolver.Kind]resolver.Signer{resolver.KindAWS: fakeSigner{}}})
	resp, err := (&http.Client{Transport: r.Transport(nil)}).Do(sharedReaderRequest(t, srv.URL, body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200 after the retry", resp.StatusCode)
	}
	sum := sha256.Sum256(body)
	for i := range 2 {
		s := <-got
		if !bytes.Equal(s.body, body) || s.hash != hex.EncodeToString(sum[:]) {
			t.Fatalf("attempt %d: server got %d bytes with hash %s, want the %d-byte body and its hash", i+1, len(s.body), s.hash, len(body))
		}
	}
}

// onlyReader hides the concrete type, so http.NewRequest sets no GetBody.
type onlyReader struct{ io.Reader }

// A refusal of a request whose body cannot be replayed still invalidates
// the credential, so the next request goes out with a new one (item 3).
func TestTransport401NonReplayableBodyStillInvalidates(t *testing.T) {
	var auths []string
	authc := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		authc <- r.Header.Get("X-Api-Key")
		if r.Header.Get("X-Api-Key") == "secret-1-abcdefgh" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	src := rotating("api-key-helper", resolver.KindAPIKey)
	r := newResolverCfg(t, resolver.Config{Sources: []resolver.Source{src}})
	client := &http.Client{Transport: r.Transport(nil)}
	for i, want := range []int{401, 200} {
		req, _ := http.NewRequest("POST", srv.URL, onlyReader{strings.NewReader("once")})
		if req.GetBody != nil {
			t.Fatal("test setup: the body is replayable")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		auths = append(auths, <-authc)
		if resp.StatusCode != want {
			t.Fatalf("request %d: status %d, want %d (keys sent %q)", i+1, resp.StatusCode, want, auths)
		}
	}
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (the refused key was replaced)", n)
	}
}

// trackedBody records whether it was closed.
type trackedBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackedBody) Close() error { b.closed.Store(true); return nil }

type failingRT struct{}

func (failingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close() // as net/http does
	}
	return nil, errors.New("connection refused")
}

// The caller's Body is closed on every path (item 4): success, refusal with
// a retry from GetBody, a failing base transport, a resolve error, a kind
// without a signer.
func TestTransportClosesCallerBodyOnEveryPath(t *testing.T) {
	refuseFirst := func() *httptest.Server {
		var n atomic.Int32
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			if n.Add(1) == 1 {
				w.WriteHeader(http.StatusUnauthorized)
			}
		}))
	}
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer ok.Close()
	for _, tc := range []struct {
		name    string
		srv     func() *httptest.Server
		base    http.RoundTripper
		source  resolver.Source
		wantErr bool
	}{
		{"success", func() *httptest.Server { return ok }, nil, rotating("s", resolver.KindAPIKey), false},
		{"refused then retried from GetBody", refuseFirst, nil, rotating("s", resolver.KindBearer), false},
		{"base transport fails", func() *httptest.Server { return ok }, failingRT{}, rotating("s", resolver.KindAPIKey), true},
		{"nothing configured", func() *httptest.Server { return ok }, nil, absentSource("s", "unset"), true},
		{"no signer for the kind", func() *httptest.Server { return ok }, nil, rotating("s", resolver.KindAWS), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.srv()
			if srv != ok {
				defer srv.Close()
			}
			r := newResolverCfg(t, resolver.Config{Sources: []resolver.Source{tc.source}})
			body := &trackedBody{Reader: strings.NewReader("payload")}
			req, _ := http.NewRequest("POST", srv.URL, body)
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("payload")), nil }
			resp, err := r.Transport(tc.base).RoundTrip(req)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if resp != nil {
				resp.Body.Close()
			}
			if !body.closed.Load() {
				t.Fatal("the caller's request body was not closed")
			}
		})
	}
}

// Errors retrying cannot fix are marked: an HTTP client's retry logic can
// tell them from a network error (item 7).
func TestTransportConfigurationErrorsArePermanent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		source resolver.Source
		want   error
	}{
		{"nothing configured", absentSource("api-key", "ANTHROPIC_API_KEY is not set"), resolver.ErrNoSource},
		{"no signer", rotating("bedrock", resolver.KindAWS), nil},
		{"login required", failingSource("oauth", fmt.Errorf("refresh refused: %w", resolver.ErrLoginRequired)), resolver.ErrLoginRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newResolverCfg(t, resolver.Config{Sources: []resolver.Source{tc.source}})
			_, err := (&http.Client{Transport: r.Transport(nil)}).Get("http://127.0.0.1:9/")
			if !errors.Is(err, resolver.ErrPermanent) || !resolver.IsPermanent(err) {
				t.Fatalf("err = %v, want one matching ErrPermanent", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want it to match %v too", err, tc.want)
			}
		})
	}
	r := newResolverCfg(t, resolver.Config{Sources: []resolver.Source{failingSource("helper", errors.New("helper exited 1"))}})
	if _, err := (&http.Client{Transport: r.Transport(nil)}).Get("http://127.0.0.1:9/"); err == nil || errors.Is(err, resolver.ErrPermanent) {
		t.Fatalf("a failing helper is marked permanent: %v", err)
	}
}

// Check reports a chain where nothing applies before any request.
func TestCheckReportsNothingConfigured(t *testing.T) {
	r := newResolverCfg(t, resolver.Config{Sources: []resolver.Source{
		absentSource("auth-token", "ANTHROPIC_AUTH_TOKEN is not set"),
		absentSource("api-key", "ANTHROPIC_API_KEY is not set"),
	}})
	err := r.Check()
	var nse *resolver.NoSourceError
	if !errors.As(err, &nse) || !errors.Is(err, resolver.ErrNoSource) || !errors.Is(err, resolver.ErrPermanent) || len(nse.Reasons) != 2 {
		t.Fatalf("Check = %v, want a NoSourceError listing both sources", err)
	}
	if !strings.Contains(err.Error(), "ANTHROPIC_API_KEY is not set") {
		t.Fatalf("Check = %q, want the reasons", err)
	}
	ok := newResolverCfg(t, resolver.Config{Sources: []resolver.Source{
		absentSource("auth-token", "unset"),
		probingSource{&fakeSource{name: "api-key"}},
	}})
	if err := ok.Check(); err != nil {
		t.Fatalf("Check with a configured source = %v", err)
	}
}

// Which statuses mean "refused" is a per-kind policy (item 6).
func TestRejectionPolicy(t *testing.T) {
	for _, tc := range []struct {
		name        string
		source      resolver.Source
		policy      resolver.RejectionPolicy
		status      int
		invalidates bool
	}{
		{"401 api key", rotating("api-key", resolver.KindAPIKey), nil, 401, true},
		{"403 api key", rotating("api-key", resolver.KindAPIKey), nil, 403, false},
		{"403 env bearer", rotating("auth-token", resolver.KindBearer), nil, 403, false},
		{"403 bearer from an OAuth login", declaring{rotating("oauth", resolver.KindBearer)}, nil, 403, true},
		{"403 AWS signature", rotating("bedrock", resolver.KindAWS), nil, 403, true},
		{"403 Google", rotating("vertex", resolver.KindGoogle), nil, 403, false},
		{"caller adds 403 for bearer", rotating("auth-token", resolver.KindBearer), resolver.RejectionPolicy{resolver.KindBearer: {401, 403}}, 403, true},
		{"caller's policy beats the source's", declaring{rotating("oauth", resolver.KindBearer)}, resolver.RejectionPolicy{resolver.KindBearer: {401}}, 403, false},
		{"caller drops 403 for AWS", rotating("bedrock", resolver.KindAWS), resolver.RejectionPolicy{resolver.KindAWS: {401}}, 403, false},
		{"500 is never a refusal", rotating("api-key", resolver.KindAPIKey), nil, 500, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					w.WriteHeader(tc.status)
				}
			}))
			defer srv.Close()
			r := newResolverCfg(t, resolver.Config{Sources: []resolver.Source{tc.source}, RejectionPolicy: tc.policy, Signers: map[resolver.Kind]resolver.Signer{resolver.KindAWS: fakeSigner{}}})
			resp, err := (&http.Client{Transport: r.Transport(nil)}).Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := n.Load() == 2; got != tc.invalidates {
				t.Fatalf("retried with a new credential = %v, want %v (status %d)", got, tc.invalidates, resp.StatusCode)
			}
		})
	}
}

// After Close, Resolve and the Transport return ErrClosed even once a
// source has won (item 5).
func TestResolveAfterCloseIsErrClosed(t *testing.T) {
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{rotating("api-key", resolver.KindAPIKey)}, Clock: testenv.NewFakeClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	mustResolve(t, r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := r.Resolve(context.Background()); !errors.Is(err, resolver.ErrClosed) {
		t.Fatalf("Resolve after Close = %v, %v; want ErrClosed", c, err)
	}
	_, err = (&http.Client{Transport: r.Transport(nil)}).Get("http://127.0.0.1:9/")
	if !errors.Is(err, resolver.ErrClosed) || !errors.Is(err, resolver.ErrPermanent) {
		t.Fatalf("Transport after Close = %v; want ErrClosed, marked permanent", err)
	}
	if _, err := r.Invalidate(context.Background(), &resolver.Credential{Source: "api-key"}); !errors.Is(err, resolver.ErrClosed) {
		t.Fatalf("Invalidate after Close = %v; want ErrClosed", err)
	}
}

// Close does not wait for a fetch that has nothing to store (an API-key
// helper run): it cancels it (item 5).
func TestCloseCancelsFetchWithNothingToStore(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan struct{})
	src := &fakeSource{name: "api-key-helper", fetch: func(ctx context.Context, _ *resolver.Credential, n int) (*resolver.Credential, error) {
		if n == 1 {
			return &resolver.Credential{Kind: resolver.KindAPIKey, Token: resolver.NewSecret("key-1-abcdefgh")}, nil
		}
		close(started)
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	}}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: testenv.NewFakeClock(t0), CloseTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	cred := mustResolve(t, r)
	go func() { _, _ = r.Invalidate(context.Background(), cred) }() // a 401: the helper runs again
	<-started
	closed := make(chan error, 1)
	go func() { closed <- r.Close() }()
	<-cancelled // the helper's context ends: its process group is killed
	if err := <-closed; err != nil {
		t.Fatalf("Close = %v", err)
	}
}

// Watch: a client that signs with an adapter still reaches Invalidate on a
// refusal of the current credential, and only of the current one.
func TestWatchInvalidatesTheCredentialTheRequestCarried(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "secret-2-abcdefgh" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	src := rotating("api-key-helper", resolver.KindAPIKey)
	r := newResolverCfg(t, resolver.Config{Sources: []resolver.Source{src}})
	client := &http.Client{Transport: r.Watch(nil)}
	send := func(key string) int {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("X-Api-Key", key)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cur := mustResolve(t, r)
	if st := send("unrelated-key"); st != 401 || src.calls.Load() != 1 {
		t.Fatalf("a refusal of another key invalidated the current one (status %d, fetches %d)", st, src.calls.Load())
	}
	if st := send(cur.Token.Reveal()); st != 401 {
		t.Fatalf("status %d", st)
	}
	next := mustResolve(t, r)
	if next.Token.Reveal() != "secret-2-abcdefgh" || src.calls.Load() != 2 {
		t.Fatalf("after the refusal Resolve = %v (fetches %d), want the second key", next, src.calls.Load())
	}
	if st := send(next.Token.Reveal()); st != 200 {
		t.Fatalf("status %d with the new key", st)
	}
}

// A replacement credential revoked while the request was under way is
// itself replaced, and the request retried once more (at most twice in
// all); the last refused credential is invalidated either way.
func TestTransportRetriesPastARevokedReplacement(t *testing.T) {
	for _, tc := range []struct {
		accept      string
		wantStatus  int
		wantFetches int32
	}{
		{"secret-3-abcdefgh", 200, 3},
		{"secret-9-abcdefgh", 401, 4}, // never accepted: 3 attempts, then the third key is invalidated too
	} {
		t.Run(tc.accept, func(t *testing.T) {
			var attempts atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				attempts.Add(1)
				if r.Header.Get("X-Api-Key") != tc.accept {
					w.WriteHeader(http.StatusUnauthorized)
				}
			}))
			defer srv.Close()
			src := rotating("api-key-helper", resolver.KindAPIKey)
			r := newResolverCfg(t, resolver.Config{Sources: []resolver.Source{src}})
			resp, err := (&http.Client{Transport: r.Transport(nil)}).Post(srv.URL, "text/plain", strings.NewReader("body"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || attempts.Load() > 3 || src.calls.Load() != tc.wantFetches {
				t.Fatalf("status %d after %d attempts and %d fetches, want %d after at most 3 attempts and %d fetches", resp.StatusCode, attempts.Load(), src.calls.Load(), tc.wantStatus, tc.wantFetches)
			}
		})
	}
}
