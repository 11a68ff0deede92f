package aws_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	credaws "github.com/credchain/credchain/providers/aws"
	"github.com/credchain/credchain/resolver"
)

type rotatingKeys struct {
	calls  atomic.Int32
	expiry time.Time
}

func (s *rotatingKeys) Name() string { return credaws.Name }
func (s *rotatingKeys) Fetch(context.Context, *resolver.Credential) (*resolver.Credential, error) {
	n := s.calls.Add(1)
	return &resolver.Credential{Kind: resolver.KindAWS, Expiry: s.expiry, AWS: &resolver.AWSKeys{
		AccessKeyID: fmt.Sprintf("AKIDKEY%d", n), SecretAccessKey: resolver.NewSecret(fmt.Sprintf("secret-%d", n)),
		SessionToken: resolver.NewSecret("session"), Region: "us-east-1",
	}}, nil
}

// Retrieve reports CanExpire/Expires, and a 403 seen by an SDK-signed
// client through Watch makes the next Retrieve return new keys.
func TestCredentialsProviderRecoversThroughWatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Authorization"), "Credential=AKIDKEY2/") {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer srv.Close()
	src := &rotatingKeys{expiry: time.Now().Add(time.Hour).Truncate(time.Second)}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := credaws.CredentialsProvider(r)
	client := &http.Client{Transport: r.Watch(nil)}
	for i, want := range []int{403, 200} {
		creds, err := p.Retrieve(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !creds.CanExpire || !creds.Expires.Equal(src.expiry) {
			t.Fatalf("CanExpire %v Expires %v, want true %v", creds.CanExpire, creds.Expires, src.expiry)
		}
		req, _ := http.NewRequest("POST", srv.URL, nil)
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, "e3b0c44298fc1c149afbe4c8996fb92427ae41e4649b934ca495991b7852b855", "bedrock", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("request %d: status %d, want %d", i+1, resp.StatusCode, want)
		}
	}
}

func TestCredentialsProviderRefusesTokens(t *testing.T) {
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{tokenSource{}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := credaws.CredentialsProvider(r).Retrieve(context.Background()); !errors.Is(err, credaws.ErrNotAWS) {
		t.Fatalf("Retrieve = %v, want ErrNotAWS", err)
	}
}

type tokenSource struct{}

func (tokenSource) Name() string { return "bedrock" }
func (tokenSource) Fetch(context.Context, *resolver.Credential) (*resolver.Credential, error) {
	return &resolver.Credential{Kind: resolver.KindBearer, Token: resolver.NewSecret("bedrock-api-key")}, nil
}
