package foundry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/providers/foundry"
	"github.com/credchain/credchain/resolver"
)

type staticCredential struct{}

func (staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestIdentity: every setting that decides which Entra principal signs in
// changes the identity; the resource and secrets do not appear in it.
func TestIdentity(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	vars := func(kv ...string) map[string]string {
		m := map[string]string{"AZURE_TENANT_ID": "tenant-a", "AZURE_CLIENT_ID": "client-a", "AZURE_CLIENT_SECRET": "s3cr3t-value"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	base := foundry.New(foundry.Options{Getenv: env(vars())})
	if id := base.Identity(); strings.Contains(id, "s3cr3t") || !strings.Contains(id, "client-a") {
		t.Fatalf("identity %q: want the client id and no secret", id)
	}
	for name, other := range map[string]*foundry.Source{
		"client id (service principal, workload or managed identity)": foundry.New(foundry.Options{Getenv: env(vars("AZURE_CLIENT_ID", "client-b"))}),
		"tenant variable":       foundry.New(foundry.Options{Getenv: env(vars("AZURE_TENANT_ID", "tenant-b"))}),
		"tenant setting":        foundry.New(foundry.Options{TenantID: "tenant-b", Getenv: env(vars())}),
		"federated token file":  foundry.New(foundry.Options{Getenv: env(vars("AZURE_FEDERATED_TOKEN_FILE", "/var/run/other"))}),
		"credential chain":      foundry.New(foundry.Options{Getenv: env(vars("AZURE_TOKEN_CREDENTIALS", "AzureCLICredential"))}),
		"Azure CLI profile":     foundry.New(foundry.Options{Getenv: env(vars("AZURE_CONFIG_DIR", "/home/other/.azure"))}),
		"certificate":           foundry.New(foundry.Options{Getenv: env(vars("AZURE_CLIENT_CERTIFICATE_PATH", "/etc/other.pem"))}),
		"authority variable":    foundry.New(foundry.Options{Getenv: env(vars("AZURE_AUTHORITY_HOST", "https://login.example.test/"))}),
		"authority option":      foundry.New(foundry.Options{ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: "https://login.example.test/"}}, Getenv: env(vars())}),
		"scope":                 foundry.New(foundry.Options{Scope: "https://ai.azure.com/.default", Getenv: env(vars())}),
		"embedder's credential": foundry.New(foundry.Options{Credential: staticCredential{}, Getenv: env(vars())}),
	} {
		if other.Identity() == base.Identity() {
			t.Errorf("another %s has the same identity %q", name, base.Identity())
		}
	}
	for name, same := range map[string]*foundry.Source{
		"resource": foundry.New(foundry.Options{Resource: "other-resource", Getenv: env(vars())}),
		"secret":   foundry.New(foundry.Options{Getenv: env(vars("AZURE_CLIENT_SECRET", "another-secret"))}),
	} {
		if same.Identity() != base.Identity() {
			t.Errorf("another %s changed the identity: %q, was %q", name, same.Identity(), base.Identity())
		}
	}
	a := foundry.New(foundry.Options{Credential: staticCredential{}, CredentialIdentity: "mi-a"})
	b := foundry.New(foundry.Options{Credential: staticCredential{}, CredentialIdentity: "mi-b"})
	if a.Identity() == b.Identity() {
		t.Errorf("two embedder credentials named apart share the identity %q", a.Identity())
	}
}

// Two resolvers share one store; AZURE_CLIENT_ID names another
// user-assigned managed identity for the second. It never gets the first
// identity's stored token: azidentity's real managed-identity credential
// asks the (loopback) endpoint for its own.
func TestClientIDSwitchNeverServesTheOtherRecord(t *testing.T) {
	foundryEnv(t)
	var mu sync.Mutex
	asked := map[string]int{}
	mi := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Header.Get("X-Identity-Header") != "identity-header-secret" {
			http.Error(w, "no identity header", http.StatusBadRequest)
			return
		}
		id := q.Get("client_id")
		mu.Lock()
		asked[id]++
		mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "token-of-" + id, "expires_on": fmt.Sprint(time.Now().Add(time.Hour).Unix()),
			"resource": q.Get("resource"), "token_type": "Bearer",
		})
	}))
	t.Cleanup(mi.Close)
	t.Setenv("IDENTITY_ENDPOINT", mi.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "identity-header-secret")
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")

	store := cache.NewMemory()
	resolve := func(clientID string) string {
		t.Helper()
		t.Setenv("AZURE_CLIENT_ID", clientID)
		cred := testenv.ResolveWith(t, resolver.Config{Sources: []resolver.Source{foundry.New(foundry.Options{})}, Store: store})
		return cred.Token.Reveal()
	}
	if got := resolve("client-a"); got != "token-of-client-a" {
		t.Fatalf("client a got %q", got)
	}
	if got := resolve("client-b"); got != "token-of-client-b" {
		t.Fatalf("AZURE_CLIENT_ID=client-b was served %q: client a's stored token", got)
	}
	if got := resolve("client-a"); got != "token-of-client-a" {
		t.Fatalf("client a, again, got %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if asked["client-a"] != 1 || asked["client-b"] != 1 {
		t.Fatalf("tokens requested %v; want one per identity (client a's second resolve reads its stored record)", asked)
	}
}
