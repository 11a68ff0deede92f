package resolver_test

import (
	"context"
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
// retried once, with its body, using the new token.
func TestTransport401SharesOneRecoveryAndRetries(t *testing.T) {
	var current atomic.Value
	current.Store("Bearer access-token-1-xxxxxxxx")
	var mu sync.Mutex
	bodies := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != current.Load().(string) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		bodies[string(b)]++
		mu.Unlock()
	}))
	defer srv.Close()
	clock := testenv.NewFakeClock(t0)
	src := &fakeSource{name: "oauth", fetch: func(_ context.Context, _ *resolver.Credential, n int) (*resolver.Credential, error) {
		return &resolver.Credential{Kind: resolver.KindBearer, Token: resolver.NewSecret(fmt.Sprintf("access-token-%d-xxxxxxxx", n)), Expiry: clock.Now().Add(time.Hour)}, nil
	}}
	r := newResolver(t, clock, nil, nil, src)
	client := &http.Client{Transport: r.Transport(nil)}
	mustResolve(t, r)
	current.Store("Bearer access-token-2-xxxxxxxx") // the server revoked token 1 early
	var wg sync.WaitGroup
	for i := range 20 {
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
	if len(bodies) != 20 {
		t.Fatalf("server saw %d distinct bodies, want 20 (bodies replayed)", len(bodies))
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
