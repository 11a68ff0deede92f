//go:build integration

package aws_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/providers/aws"
)

// ssoPortal fakes the AWS SSO portal's GetRoleCredentials and the SSO-OIDC
// token endpoint (which refuses every refresh, as after a revoked session),
// per the wire contract the SDK speaks. It hands out alice's keys so moto
// can check them.
type ssoPortal struct {
	url      string
	token    string
	calls    atomic.Int32
	oidcHits atomic.Int32
}

func newSSOPortal(t *testing.T, alice itest.MotoIdentity, token string) *ssoPortal {
	t.Helper()
	p := &ssoPortal{token: token}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/federation/credentials":
			p.calls.Add(1)
			if r.Header.Get("x-amz-sso_bearer_token") != p.token || r.URL.Query().Get("account_id") != itest.MotoAccount || r.URL.Query().Get("role_name") != "BedrockUser" {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"message":"Session token not found or invalid"}`))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"roleCredentials": map[string]any{
				"accessKeyId": alice.AccessKeyID, "secretAccessKey": alice.SecretAccessKey,
				"expiration": time.Now().Add(time.Hour).UnixMilli(),
			}})
		case r.Method == http.MethodPost && r.URL.Path == "/token":
			p.oidcHits.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"refresh token revoked"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// ssoCache writes the SSO token cache as `aws sso login` leaves it.
func ssoCacheFile(home string) string {
	sum := sha1.Sum([]byte("my-sso"))
	return filepath.Join(home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json")
}

func ssoCache(token string, expires time.Time) string {
	b, _ := json.Marshal(map[string]string{
		"startUrl": "https://example.awsapps.com/start", "region": "us-east-1", "accessToken": token,
		"expiresAt": expires.UTC().Format(time.RFC3339), "clientId": "cid", "clientSecret": "csecret",
		"registrationExpiresAt": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339), "refreshToken": "rt-1",
	})
	return string(b)
}

// TestSSO: an IAM Identity Center profile through the SDK's own SSO
// provider; an expired SSO session makes the chain fail, awsAuthRefresh
// (standing in for `aws sso login`) writes a new token cache, and the
// credentials come on the same fetch.
func TestSSO(t *testing.T) {
	m, alice := verifying(t)
	home := env(t, m)
	portal := newSSOPortal(t, alice, "sso-access-token-2")
	t.Setenv("AWS_ENDPOINT_URL_SSO", portal.url)
	t.Setenv("AWS_ENDPOINT_URL_SSO_OIDC", portal.url)
	writeFile(t, filepath.Join(home, "config"), fmt.Sprintf(
		"[profile sso]\nsso_session = my-sso\nsso_account_id = %s\nsso_role_name = BedrockUser\nregion = us-east-1\n"+
			"[sso-session my-sso]\nsso_region = us-east-1\nsso_start_url = https://example.awsapps.com/start\nsso_registration_scopes = sso:account:access\n",
		itest.MotoAccount))
	cacheFile := ssoCacheFile(home)
	if err := os.MkdirAll(filepath.Dir(cacheFile), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cacheFile, ssoCache("sso-access-token-1", time.Now().Add(-time.Minute)))
	fresh := filepath.Join(home, "fresh-cache.json")
	writeFile(t, fresh, ssoCache("sso-access-token-2", time.Now().Add(8*time.Hour)))
	count := filepath.Join(home, "refresh.runs")
	login := fmt.Sprintf("echo run >> %q; cp %q %q", count, fresh, cacheFile)

	src := aws.New(options(aws.Options{Profile: "sso", AuthRefresh: login}))
	cred, err := src.Fetch(context.Background(), nil)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if testenv.CountLines(t, count) != 1 || portal.oidcHits.Load() == 0 || cred.Meta["arn"] != alice.UserARN || cred.Meta["provider"] != "SSOProvider" {
		t.Fatalf("Fetch = %v (meta %v) after %d awsAuthRefresh runs and %d SSO-OIDC refreshes; want SSO credentials after one run",
			cred, cred.Meta, testenv.CountLines(t, count), portal.oidcHits.Load())
	}
	if d := time.Until(cred.Expiry); d < 59*time.Minute || d > time.Hour {
		t.Errorf("expires in %v, want the role credentials' hour", d)
	}
	// A later fetch asks the portal again (no SDK cache under ours) and
	// needs no login.
	before := portal.calls.Load()
	if _, err := src.Fetch(context.Background(), cred); err != nil {
		t.Fatal(err)
	}
	if portal.calls.Load() != before+1 || testenv.CountLines(t, count) != 1 {
		t.Fatalf("second fetch: %d portal calls, %d runs", portal.calls.Load()-before, testenv.CountLines(t, count))
	}
}
