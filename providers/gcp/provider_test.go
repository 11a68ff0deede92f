package gcp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/auth"

	"github.com/credchain/credchain/providers/gcp"
	"github.com/credchain/credchain/resolver"
)

type rotatingTokens struct{ calls atomic.Int32 }

func (s *rotatingTokens) Name() string { return gcp.Name }
func (s *rotatingTokens) Fetch(context.Context, *resolver.Credential) (*resolver.Credential, error) {
	n := s.calls.Add(1)
	return &resolver.Credential{Kind: resolver.KindGoogle, Token: resolver.NewSecret(fmt.Sprintf("ya29.token-%d", n)), Expiry: time.Now().Add(time.Hour)}, nil
}

// authorizing does what cloud.google.com/go/auth/httptransport does: ask
// the credentials for a token on every request and set it.
type authorizing struct {
	creds *auth.Credentials
	base  http.RoundTripper
}

func (a authorizing) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := a.creds.Token(req.Context())
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", tok.Type+" "+tok.Value)
	return a.base.RoundTrip(req)
}

// A client that authorizes with auth.Credentials over the TokenProvider,
// with Watch as its base: a 401 reaches Invalidate and the next request
// carries a new token.
func TestTokenProviderRecoversThroughWatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer ya29.token-2" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	src := &rotatingTokens{}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	creds := auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: gcp.TokenProvider(r)})
	client := &http.Client{Transport: authorizing{creds, r.Watch(nil)}}
	for i, want := range []int{401, 200} {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("request %d: status %d, want %d", i+1, resp.StatusCode, want)
		}
	}
}
