package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

func TestTransportSetsHeaderByKind(t *testing.T) {
	for _, tc := range []struct {
		kind         resolver.Kind
		header, want string
	}{
		{resolver.KindAPIKey, "X-Api-Key", "sk-test-key"},
		{resolver.KindBearer, "Authorization", "Bearer sk-test-key"},
		{resolver.KindGoogle, "Authorization", "Bearer sk-test-key"},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			got := make(chan string, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Get(tc.header) }))
			defer srv.Close()
			src := &fakeSource{name: "s", fetch: func(context.Context, *resolver.Credential, int) (*resolver.Credential, error) {
				return &resolver.Credential{Kind: tc.kind, Token: resolver.NewSecret("sk-test-key")}, nil
			}}
			r := newResolver(t, testenv.NewFakeClock(t0), nil, nil, src)
			resp, err := (&http.Client{Transport: r.Transport(nil)}).Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if h := <-got; h != tc.want {
				t.Fatalf("%s = %q, want %q", tc.header, h, tc.want)
			}
		})
	}
}

// Concurrent 401s for the same token share one recovery; each request is
// retried once, with its body, using the new token. Gates make them
// overlap: every request is refused only once all have been sent, and the
// recovery ends only once every refusal is back.
func TestTransport401SharesOneRecoveryAndRetries(t *testing.T) {
	const requests = 20
	var current atomic.Value
	current.Store("Bearer access-token-1-xxxxxxxx")
	var mu sync.Mutex
	bodies := map[string]int{}
	// No 401 is answered before every request has arrived with the old
	// token: a request resolving after a recovery began would wait for it
	// and never be refused.
	allArrived := make(chan struct{})
	var arrived atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != current.Load().(string) {
			if arrived.Add(1) == requests {
				close(allArrived)
			}
			<-allArrived
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		bodies[string(b)]++
		mu.Unlock()
	}))
	defer srv.Close()
	allRefused := make(chan struct{})
	var refused atomic.Int32
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err == nil && resp.StatusCode == http.StatusUnauthorized && refused.Add(1) == requests {
			close(allRefused)
		}
		return resp, err
	})
	clock := testenv.NewFakeClock(t0)
	src := &fakeSource{name: "oauth", fetch: func(_ context.Context, _ *resolver.Credential, n int) (*resolver.Credential, error) {
		if n == 2 {
			<-allRefused // every request holds its 401 before the recovery ends
		}
		return &resolver.Credential{Kind: resolver.KindBearer, Token: resolver.NewSecret(fmt.Sprintf("access-token-%d-xxxxxxxx", n)), Expiry: clock.Now().Add(time.Hour)}, nil
	}}
	r := newResolver(t, clock, nil, nil, src)
	client := &http.Client{Transport: r.Transport(base)}
	mustResolve(t, r)
	current.Store("Bearer access-token-2-xxxxxxxx") // the server revoked token 1 early
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			resp, err := client.Post(srv.URL, "text/plain", strings.NewReader(fmt.Sprint("body-", i)))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("status %d after retry", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 1 initial + 1 shared recovery", n)
	}
	if len(bodies) != requests {
		t.Fatalf("server saw %d distinct bodies, want %d (bodies replayed)", len(bodies), requests)
	}
	for b, n := range bodies {
		if n != 1 {
			t.Fatalf("body %q accepted %d times, want once", b, n)
		}
	}
}

// roundTripFunc is a base transport written in the test: the wire as the
// resolver's transport sees it.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// closeRecorder is a body that records being closed.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

// refuseToken answers 401 to a request carrying the given Authorization and
// 200 otherwise, recording every request it sees.
func refuseToken(refused string, seen *[]string, mu *sync.Mutex) roundTripFunc {
	return func(req *http.Request) (*http.Response, error) {
		if req.Body != nil {
			_, _ = io.Copy(io.Discard, req.Body)
			_ = req.Body.Close()
		}
		mu.Lock()
		*seen = append(*seen, req.Header.Get("Authorization"))
		mu.Unlock()
		code := http.StatusOK
		if req.Header.Get("Authorization") == refused {
			code = http.StatusUnauthorized
		}
		return &http.Response{StatusCode: code, Body: io.NopCloser(strings.NewReader("answer")), Header: http.Header{}, Request: req}, nil
	}
}

// refusingFirstToken is a resolver over counterSource whose transport's
// wire refuses the first token; seen returns the Authorization of every
// request sent.
func refusingFirstToken(t *testing.T) (src *fakeSource, tr http.RoundTripper, seen func() []string) {
	clock := testenv.NewFakeClock(t0)
	src = counterSource(clock)
	r := newResolver(t, clock, nil, nil, src)
	var mu sync.Mutex
	var log []string
	tr = r.Transport(refuseToken("Bearer tok-1-xxxxxxxxxxxx", &log, &mu))
	return src, tr, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), log...)
	}
}

// counterSource hands out bearer tokens tok-N-xxxxxxxxxxxx, valid an hour.
func counterSource(clock *testenv.FakeClock) *fakeSource {
	return &fakeSource{name: "oauth", fetch: func(_ context.Context, _ *resolver.Credential, n int) (*resolver.Credential, error) {
		return &resolver.Credential{Kind: resolver.KindBearer, Token: resolver.NewSecret(fmt.Sprintf("tok-%d-xxxxxxxxxxxx", n)), Expiry: clock.Now().Add(time.Hour)}, nil
	}}
}

// A request whose body cannot be replayed (no GetBody) is not retried after
// a 401: the caller gets the refusal, and the refused credential is still
// invalidated, so the next request goes out with a new one.
func TestTransport401WithNonReplayableBodyIsReturned(t *testing.T) {
	src, tr, seenRequests := refusingFirstToken(t)
	body := &closeRecorder{Reader: strings.NewReader("once only")}
	req, err := http.NewRequest(http.MethodPost, "http://api.invalid/v1", body)
	if err != nil {
		t.Fatal(err)
	}
	if req.GetBody != nil {
		t.Fatal("test setup: the body is replayable")
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if seen := seenRequests(); resp.StatusCode != http.StatusUnauthorized || len(seen) != 1 {
		t.Fatalf("status %d after %d requests, want the 401 after 1", resp.StatusCode, len(seen))
	}
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (the refused credential replaced although the request is not retried)", n)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "answer" {
		t.Fatalf("refusal body = %q, want it intact", b)
	}
}

// A GET (no body) refused with 401 is retried with the new token, and the
// refused response's body is closed.
func TestTransport401WithoutBodyIsRetried(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	src := counterSource(clock)
	r := newResolver(t, clock, nil, nil, src)
	var mu sync.Mutex
	var seen []string
	refusedBody := &closeRecorder{Reader: strings.NewReader("refused")}
	wire := refuseToken("Bearer tok-1-xxxxxxxxxxxx", &seen, &mu)
	tr := r.Transport(roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := wire(req)
		if resp.StatusCode == http.StatusUnauthorized {
			resp.Body = refusedBody
		}
		return resp, err
	}))
	req, _ := http.NewRequest(http.MethodGet, "http://api.invalid/v1", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Join(seen, ",") != "Bearer tok-1-xxxxxxxxxxxx,Bearer tok-2-xxxxxxxxxxxx" {
		t.Fatalf("status %d, requests %v; want 200 after the old then the new token", resp.StatusCode, seen)
	}
	if !refusedBody.closed.Load() {
		t.Fatal("the refused response's body was not closed")
	}
	if req.Header.Get("Authorization") != "" {
		t.Fatal("the caller's request was modified")
	}
}

// When the retry cannot be prepared (the body can no longer be produced),
// the caller gets the original refusal, not an error.
func TestTransportRetryWithoutBodyReturnsTheRefusal(t *testing.T) {
	_, tr, seenRequests := refusingFirstToken(t)
	req, _ := http.NewRequest(http.MethodPost, "http://api.invalid/v1", strings.NewReader("payload"))
	bodies := 0
	req.GetBody = func() (io.ReadCloser, error) {
		// The first attempt sends req.Body itself; GetBody is only for
		// the retry, and here it fails.
		bodies++
		return nil, errors.New("body source gone")
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip = %v, want the refusal", err)
	}
	resp.Body.Close()
	if seen := seenRequests(); resp.StatusCode != http.StatusUnauthorized || len(seen) != 1 || bodies != 1 {
		t.Fatalf("status %d after %d requests (GetBody called %d times), want the 401 after 1", resp.StatusCode, len(seen), bodies)
	}
}

// signerFunc is a Signer written in the test.
type signerFunc func(ctx context.Context, req *http.Request, cred *resolver.Credential) error

func (f signerFunc) Sign(ctx context.Context, req *http.Request, cred *resolver.Credential) error {
	return f(ctx, req, cred)
}

func awsSource(clock *testenv.FakeClock) *fakeSource {
	return &fakeSource{name: "bedrock", fetch: func(_ context.Context, _ *resolver.Credential, n int) (*resolver.Credential, error) {
		return &resolver.Credential{Kind: resolver.KindAWS, AWS: &resolver.AWSKeys{AccessKeyID: fmt.Sprintf("AKIDTEST%d", n), SecretAccessKey: resolver.NewSecret(fmt.Sprintf("secret-%d-xxxxxxxxxxxx", n))}, Expiry: clock.Now().Add(time.Hour)}, nil
	}}
}

// Every failure before the request goes out (no credential, no signer for
// its kind, a signer error) is returned as the RoundTrip error, names the
// source, sends nothing, and closes the request body as a RoundTripper must.
func TestTransportErrorsCloseTheBodyAndSendNothing(t *testing.T) {
	signErr := errors.New("clock skew too large")
	for _, tc := range []struct {
		name    string
		aws     bool // the source hands out AWS keys, which need a Signer
		signers map[resolver.Kind]resolver.Signer
		want    error
		wantMsg string
	}{
		{name: "no credential", wantMsg: "oauth: token endpoint down"},
		{name: "no signer for the kind", aws: true, wantMsg: "bedrock: no signer is registered for credential kind aws"},
		{name: "signer error", aws: true, want: signErr, wantMsg: "bedrock: clock skew too large",
			signers: map[resolver.Kind]resolver.Signer{resolver.KindAWS: signerFunc(func(context.Context, *http.Request, *resolver.Credential) error { return signErr })}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testenv.NewFakeClock(t0)
			src := failingSource("oauth", errors.New("token endpoint down"))
			if tc.aws {
				src = awsSource(clock)
			}
			r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock, Signers: tc.signers})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = r.Close() })
			var sent atomic.Int32
			tr := r.Transport(roundTripFunc(func(*http.Request) (*http.Response, error) {
				sent.Add(1)
				return nil, errors.New("must not be sent")
			}))
			body := &closeRecorder{Reader: strings.NewReader("payload")}
			req, _ := http.NewRequest(http.MethodPost, "http://api.invalid/v1", body)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
				t.Fatal("RoundTrip succeeded")
			}
			if err.Error() != tc.wantMsg || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %q, want %q", err, tc.wantMsg)
			}
			var se *resolver.SourceError
			if !errors.As(err, &se) {
				t.Fatalf("err %v does not name its source", err)
			}
			if !body.closed.Load() {
				t.Fatal("request body not closed on the error path")
			}
			if n := sent.Load(); n != 0 {
				t.Fatalf("sent %d requests", n)
			}
		})
	}
}

// A signed kind (AWS) is signed again for the retry with the new credential,
// and for AWS a 403 (an expired or invalid signature) counts as a refusal.
func TestTransportSignsEachAttemptWithItsCredential(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	src := awsSource(clock)
	var signed []string
	signer := signerFunc(func(_ context.Context, req *http.Request, cred *resolver.Credential) error {
		signed = append(signed, cred.AWS.AccessKeyID)
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+cred.AWS.AccessKeyID)
		return nil
	})
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Clock: clock, Signers: map[resolver.Kind]resolver.Signer{resolver.KindAWS: signer}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	var seen []string
	tr := r.Transport(roundTripFunc(func(req *http.Request) (*http.Response, error) {
		seen = append(seen, req.Header.Get("Authorization"))
		code := http.StatusOK
		if strings.HasSuffix(req.Header.Get("Authorization"), "AKIDTEST1") {
			code = http.StatusForbidden
		}
		return &http.Response{StatusCode: code, Body: http.NoBody, Header: http.Header{}, Request: req}, nil
	}))
	req, _ := http.NewRequest(http.MethodGet, "http://api.invalid/v1", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Join(signed, ",") != "AKIDTEST1,AKIDTEST2" || len(seen) != 2 {
		t.Fatalf("status %d, signed with %v, sent %v; want 200 after signing with each key", resp.StatusCode, signed, seen)
	}
}

// A 403 is not a refusal of a bearer token (it is a permission error, not a
// dead credential): no recovery, no retry.
func TestTransport403OfBearerIsNotARefusal(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	src := counterSource(clock)
	r := newResolver(t, clock, nil, nil, src)
	var hits atomic.Int32
	tr := r.Transport(roundTripFunc(func(req *http.Request) (*http.Response, error) {
		hits.Add(1)
		return &http.Response{StatusCode: http.StatusForbidden, Body: http.NoBody, Header: http.Header{}, Request: req}, nil
	}))
	req, _ := http.NewRequest(http.MethodGet, "http://api.invalid/v1", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || hits.Load() != 1 || src.calls.Load() != 1 {
		t.Fatalf("status %d after %d requests and %d fetches, want the 403 after 1 and 1", resp.StatusCode, hits.Load(), src.calls.Load())
	}
}

// A refused credential that the source cannot replace is not retried.
func TestTransport401WithSameKeyIsNotRetried(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	r := newResolver(t, testenv.NewFakeClock(t0), nil, nil, staticSource("api-key", "sk-same"))
	resp, err := (&http.Client{Transport: r.Transport(nil)}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || hits.Load() != 1 {
		t.Fatalf("status %d after %d requests, want 401 after 1", resp.StatusCode, hits.Load())
	}
}

// A refusal reported late, for a credential already replaced, starts no
// second recovery: it gets the current credential.
func TestInvalidateOfReplacedCredentialReturnsCurrent(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	src := counterSource(clock)
	r := newResolver(t, clock, nil, nil, src)
	old := mustResolve(t, r)
	next, err := r.Invalidate(context.Background(), old)
	if err != nil || next.SameSecret(old) {
		t.Fatalf("Invalidate = %v, %v; want a new credential", next, err)
	}
	again, err := r.Invalidate(context.Background(), old)
	if err != nil || again != next {
		t.Fatalf("late Invalidate = %v, %v; want the current credential %v", again, err, next)
	}
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
	if _, err := r.Invalidate(context.Background(), nil); err == nil {
		t.Fatal("Invalidate(nil) succeeded")
	}
	if _, err := r.Invalidate(context.Background(), &resolver.Credential{Source: "nope"}); err == nil || !strings.Contains(err.Error(), `unknown source "nope"`) {
		t.Fatalf("Invalidate of an unknown source = %v", err)
	}
}
