package oauth2adapter_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/resolver/oauth2adapter"
)

type rotating struct {
	kind  resolver.Kind
	calls atomic.Int32
}

func (s *rotating) Name() string { return "oauth" }
func (s *rotating) Fetch(context.Context, *resolver.Credential) (*resolver.Credential, error) {
	n := s.calls.Add(1)
	return &resolver.Credential{Kind: s.kind, Token: resolver.NewSecret(fmt.Sprintf("token-%d-abcdefgh", n)), Expiry: time.Now().Add(time.Hour)}, nil
}

func newResolver(t *testing.T, src resolver.Source) *resolver.Resolver {
	t.Helper()
	return testenv.NewResolver(t, resolver.Config{Sources: []resolver.Source{src}})
}

// An oauth2.Transport over the adapter, with Watch as its base: a 401 seen
// by that client reaches Invalidate, and the next request carries a new
// token.
func TestTokenSourceRecoversThroughWatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer token-2-abcdefgh" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	src := &rotating{kind: resolver.KindBearer}
	r := newResolver(t, src)
	ts := oauth2adapter.TokenSource(context.Background(), r)
	client := &http.Client{Transport: &oauth2.Transport{Source: ts, Base: r.Watch(nil)}}
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
	tok, err := ts.Token()
	if err != nil || tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
		t.Fatalf("Token = %+v, %v; want a Bearer token with its expiry", tok, err)
	}
}

func TestTokenSourceKinds(t *testing.T) {
	tok, err := oauth2adapter.TokenSource(context.Background(), newResolver(t, &rotating{kind: resolver.KindAPIKey})).Token()
	if err != nil || tok.TokenType != oauth2adapter.TypeAPIKey || tok.AccessToken != "token-1-abcdefgh" {
		t.Fatalf("API key: %+v, %v", tok, err)
	}
	_, err = oauth2adapter.FromCredential(&resolver.Credential{Kind: resolver.KindAWS, Source: "bedrock", AWS: &resolver.AWSKeys{}})
	if !errors.Is(err, oauth2adapter.ErrNotToken) {
		t.Fatalf("AWS keys: %v, want ErrNotToken", err)
	}
}
