//go:build integration

package aws_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/providers/aws"
)

// A moto that does not verify signatures, for AssumeRoleWithWebIdentity
// (an unsigned call, which the verifying moto answers with HTTP 500).
var plainMoto struct {
	once sync.Once
	m    *itest.Moto
	err  error
}

func plain(t *testing.T) *itest.Moto {
	t.Helper()
	plainMoto.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		plainMoto.m, plainMoto.err = itest.StartMoto(ctx, 0)
		if plainMoto.m != nil {
			m := plainMoto.m
			stopAtExit = append(stopAtExit, m.Close)
		}
	})
	if plainMoto.err != nil {
		t.Fatalf("moto: %v", plainMoto.err)
	}
	return plainMoto.m
}

// TestWebIdentity: the SDK's web identity provider (a token file and a
// role, as on EKS) through moto's STS.
func TestWebIdentity(t *testing.T) {
	m := plain(t)
	home := env(t, m)
	tokenFile := filepath.Join(home, "token.jwt")
	// moto does not validate the token; an unsigned JWT is enough.
	writeFile(t, tokenFile, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpib3QifQ.")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile)
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::"+itest.MotoAccount+":role/bedrock-role")
	t.Setenv("AWS_ROLE_SESSION_NAME", "wi-session")
	cred, err := aws.New(options(aws.Options{Region: "us-east-1"})).Fetch(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cred.Meta["arn"] != "arn:aws:sts::"+itest.MotoAccount+":assumed-role/bedrock-role/wi-session" || cred.AWS.SessionToken.IsZero() || cred.Expiry.IsZero() {
		t.Fatalf("Fetch = %v (meta %v), want web identity session credentials", cred, cred.Meta)
	}
}

// TestContainerCredentials: the SDK's container provider (ECS, EKS pod
// identity) against a wire-exact endpoint. The SDK caches that provider
// with a 5-minute early expiry; a fresh configuration per fetch means our
// scheduler sees the endpoint's real Expiration and every fetch asks again.
func TestContainerCredentials(t *testing.T) {
	m, alice := verifying(t)
	env(t, m)
	expiry := time.Now().Add(20 * time.Minute).UTC().Truncate(time.Second)
	var hits atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/credentials/abc" || r.Header.Get("Authorization") != "container-auth-token" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		hits.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"AccessKeyId": alice.AccessKeyID, "SecretAccessKey": alice.SecretAccessKey, "Expiration": expiry.Format(time.RFC3339),
		})
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/v2/credentials/abc")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-auth-token")
	src := aws.New(options(aws.Options{Region: "us-east-1"}))
	cred, err := src.Fetch(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cred.Expiry.Equal(expiry) || cred.Meta["arn"] != alice.UserARN {
		t.Fatalf("Fetch = %v (expiry %v, meta %v), want the endpoint's keys and exact Expiration %v", cred, cred.Expiry, cred.Meta, expiry)
	}
	if _, err := src.Fetch(context.Background(), cred); err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("container endpoint asked %d times for 2 fetches, want 2", n)
	}
}
