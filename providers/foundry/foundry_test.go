package foundry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/providers/foundry"
	"github.com/credchain/credchain/resolver"
)

// apiStandIn is the Foundry endpoint: it accepts the requests whose
// Authorization or x-api-key accept says yes to, and records them.
type apiStandIn struct {
	*httptest.Server
	mu     sync.Mutex
	seen   []http.Header
	accept func(h http.Header) bool
}

func newAPI(t *testing.T, accept func(http.Header) bool) *apiStandIn {
	a := &apiStandIn{accept: accept}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.seen = append(a.seen, r.Header.Clone())
		a.mu.Unlock()
		if !a.accept(r.Header) {
			http.Error(w, `{"error":{"code":"401","message":"Access denied"}}`, http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `{"type":"message"}`)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *apiStandIn) headers() []http.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.seen)
}

func newResolver(t *testing.T, src resolver.Source) *resolver.Resolver {
	t.Helper()
	return testenv.NewResolver(t, resolver.Config{Sources: []resolver.Source{src}})
}

func post(t *testing.T, r *resolver.Resolver, url string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/anthropic/v1/messages", strings.NewReader(`{"max_tokens":1}`))
	resp, err := (&http.Client{Transport: r.Transport(nil)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func foundryEnv(t *testing.T) {
	t.Helper()
	testenv.Hermetic(t)
	t.Setenv(foundry.EnvUseFoundry, "1")
	t.Setenv(foundry.EnvResource, "my-resource")
}

// TestManagedIdentity drives azidentity's real managed-identity code (App
// Service flavour: IDENTITY_ENDPOINT + IDENTITY_HEADER) against a loopback
// endpoint. Each token request mints a new token; the API stand-in refuses
// the first, and resolver.Transport recovers with exactly one new token —
// the source did not let azidentity's cache hand back the refused one.
func TestManagedIdentity(t *testing.T) {
	foundryEnv(t)
	var minted atomic.Int32
	expires := time.Now().Add(time.Hour).Truncate(time.Second)
	mi := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Header.Get("X-Identity-Header") != "identity-header-secret" || q.Get("resource") != "https://cognitiveservices.azure.com" || q.Get("api-version") != "2019-08-01" {
			http.Error(w, fmt.Sprintf("bad request %s %v", r.URL, r.Header), http.StatusBadRequest)
			return
		}
		n := minted.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": fmt.Sprintf("entra-token-%d", n), "expires_on": fmt.Sprint(expires.Unix()),
			"resource": q.Get("resource"), "token_type": "Bearer",
		})
	}))
	t.Cleanup(mi.Close)
	t.Setenv("IDENTITY_ENDPOINT", mi.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "identity-header-secret")
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")

	api := newAPI(t, func(h http.Header) bool { return h.Get("Authorization") == "Bearer entra-token-2" })
	src := foundry.New(foundry.Options{})
	if !src.Persistent() {
		t.Error("Entra tokens belong in the shared store")
	}
	r := newResolver(t, src)
	if code := post(t, r, api.URL); code != http.StatusOK {
		t.Fatalf("status %d after the refusal of the first token; seen %v", code, api.headers())
	}
	if n := minted.Load(); n != 2 {
		t.Fatalf("%d tokens minted, want 2 (one, refused, then one more)", n)
	}
	cred, err := r.Resolve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cred.Kind != resolver.KindBearer || !cred.Expiry.Equal(expires) || cred.Meta["scope"] != foundry.DefaultScope || cred.Meta["resource"] != "my-resource" {
		t.Fatalf("credential %v expiry %v meta %v", cred, cred.Expiry, cred.Meta)
	}
	if got := src.ChildEnv(cred); !slices.Equal(got, []string{"ANTHROPIC_AUTH_TOKEN=entra-token-2", "ANTHROPIC_FOUNDRY_BASE_URL=https://my-resource.services.ai.azure.com/anthropic"}) {
		t.Fatalf("ChildEnv = %q", got)
	}
}

// entraStandIn is a Microsoft Entra authority on 127.0.0.1 over TLS: the
// tenant's OpenID configuration and its token endpoint, which checks the
// client secret or the federated assertion.
func entraStandIn(t *testing.T, tenant, clientID, secret, assertion string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := srv.URL + "/" + tenant
		switch r.URL.Path {
		case "/" + tenant + "/v2.0/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{
				"token_endpoint":         base + "/oauth2/v2.0/token",
				"authorization_endpoint": base + "/oauth2/v2.0/authorize",
				"issuer":                 base + "/v2.0",
			})
		case "/" + tenant + "/oauth2/v2.0/token":
			_ = r.ParseForm()
			f := r.PostForm
			ok := f.Get("client_id") == clientID && f.Get("grant_type") == "client_credentials" &&
				f.Get("scope") == foundry.DefaultScope+" openid offline_access profile" || f.Get("scope") == foundry.DefaultScope
			switch {
			case !ok:
				http.Error(w, `{"error":"invalid_request","error_description":"bad form `+f.Encode()+`"}`, http.StatusBadRequest)
			case secret != "" && f.Get("client_secret") != secret,
				assertion != "" && f.Get("client_assertion") != assertion:
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`)
			default:
				_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": 3600, "access_token": "entra-sp-token"})
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestEntraOverTLS drives azidentity's client-secret and workload-identity
// credentials (through DefaultAzureCredential, as Claude Code does) against
// an authority host on 127.0.0.1 over TLS, trusted through the test
// server's CA, with instance discovery off — never a Microsoft host.
func TestEntraOverTLS(t *testing.T) {
	const tenant, clientID = "00000000-0000-0000-0000-0000000000aa", "11111111-2222-3333-4444-555555555555"
	for _, tc := range []struct {
		name, chain, secret, assertion, wantErr string
	}{
		{name: "client secret", chain: "EnvironmentCredential", secret: "client-secret-value"},
		{name: "workload identity", chain: "WorkloadIdentityCredential", assertion: "eyJhbGciOiJSUzI1NiJ9.federated.sig"},
		{name: "wrong secret", chain: "EnvironmentCredential", secret: "client-secret-value", wantErr: "AADSTS7000215"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			foundryEnv(t)
			srv := entraStandIn(t, tenant, clientID, tc.secret, tc.assertion)
			t.Setenv("AZURE_AUTHORITY_HOST", srv.URL+"/")
			t.Setenv("AZURE_TENANT_ID", tenant)
			t.Setenv("AZURE_CLIENT_ID", clientID)
			t.Setenv("AZURE_TOKEN_CREDENTIALS", tc.chain)
			if tc.secret != "" {
				sent := tc.secret
				if tc.wantErr != "" {
					sent = "another-secret"
				}
				t.Setenv("AZURE_CLIENT_SECRET", sent)
			}
			if tc.assertion != "" {
				file := filepath.Join(t.TempDir(), "azure-token")
				if err := os.WriteFile(file, []byte(tc.assertion), 0o600); err != nil {
					t.Fatal(err)
				}
				t.Setenv("AZURE_FEDERATED_TOKEN_FILE", file)
			}
			// The test server's CA, and a dialer that reaches only
			// loopback: a request meant for a Microsoft host fails here.
			client := srv.Client()
			client.Transport.(*http.Transport).DialContext = testenv.LoopbackDial
			src := foundry.New(foundry.Options{
				ClientOptions:            azcore.ClientOptions{Transport: client, Retry: policy.RetryOptions{MaxRetries: -1}},
				DisableInstanceDiscovery: true,
			})
			cred, err := src.Fetch(context.Background(), nil)
			if tc.wantErr != "" {
				if !errors.Is(err, foundry.ErrNoCredential) || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "another-secret") {
					t.Fatalf("Fetch = %v, want ErrNoCredential with azidentity's reason and no secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cred.Token.Reveal() != "entra-sp-token" || cred.Kind != resolver.KindBearer || cred.Expiry.IsZero() {
				t.Fatalf("credential %v", cred)
			}
		})
	}
}

// TestNoAzureCredential: nothing in the chain can produce a token; the
// error says so, with azidentity's per-credential reasons and the fixes.
func TestNoAzureCredential(t *testing.T) {
	foundryEnv(t)
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "EnvironmentCredential")
	_, err := foundry.New(foundry.Options{}).Fetch(context.Background(), nil)
	if !errors.Is(err, foundry.ErrNoCredential) || !strings.Contains(err.Error(), "EnvironmentCredential") ||
		!strings.Contains(err.Error(), `resource "my-resource"`) || !strings.Contains(err.Error(), foundry.EnvAPIKey) {
		t.Fatalf("Fetch = %v", err)
	}
	// The production chain, with a transport that reaches only loopback
	// (the managed-identity probe of 169.254.169.254 fails at once): the
	// error aggregates every credential's reason.
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "prod")
	_, err = foundry.New(foundry.Options{ClientOptions: azcore.ClientOptions{Transport: testenv.LoopbackHTTPClient()}}).Fetch(context.Background(), nil)
	for _, want := range []string{"EnvironmentCredential", "WorkloadIdentityCredential", "ManagedIdentityCredential"} {
		if !errors.Is(err, foundry.ErrNoCredential) || !strings.Contains(err.Error(), want) {
			t.Errorf("Fetch with the prod chain = %v, want %s's reason", err, want)
		}
	}
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "nonsense")
	if _, err := foundry.New(foundry.Options{}).Fetch(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "AZURE_TOKEN_CREDENTIALS") {
		t.Fatalf("Fetch with a bad AZURE_TOKEN_CREDENTIALS = %v", err)
	}
}

// TestKeyAndSkip: ANTHROPIC_FOUNDRY_API_KEY is sent as x-api-key and never
// stored; CLAUDE_CODE_SKIP_FOUNDRY_AUTH sends nothing of ours (or the
// proxy's ANTHROPIC_AUTH_TOKEN).
func TestKeyAndSkip(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		env                     map[string]string
		wantKey, wantAuth, kind string
	}{
		{"key", map[string]string{foundry.EnvAPIKey: "foundry-key-0123456789"}, "foundry-key-0123456789", "", "api_key"},
		{"skip", map[string]string{foundry.EnvAPIKey: "foundry-key-0123456789", foundry.EnvSkipAuth: "yes"}, "", "", "none"},
		{"skip with proxy token", map[string]string{foundry.EnvSkipAuth: "1", "ANTHROPIC_AUTH_TOKEN": "proxy-token"}, "", "Bearer proxy-token", "bearer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			foundryEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			api := newAPI(t, func(http.Header) bool { return true })
			src := foundry.New(foundry.Options{})
			if src.Persistent() {
				t.Error("nothing from the environment may be stored")
			}
			r := newResolver(t, src)
			if code := post(t, r, api.URL); code != http.StatusOK {
				t.Fatal(code)
			}
			h := api.headers()[0]
			if h.Get("X-Api-Key") != tc.wantKey || h.Get("Authorization") != tc.wantAuth {
				t.Fatalf("headers %v", h)
			}
			cred, _ := r.Resolve(context.Background())
			if string(cred.Kind) != tc.kind {
				t.Fatalf("kind %s, want %s", cred.Kind, tc.kind)
			}
		})
	}
	foundryEnv(t)
	t.Setenv(foundry.EnvUseFoundry, "")
	if err := foundry.New(foundry.Options{}).Probe(); !errors.Is(err, resolver.ErrNotConfigured) || !strings.Contains(err.Error(), foundry.EnvUseFoundry) {
		t.Fatalf("Probe without the flag: %v", err)
	}
}
