package main

import (
	"context"
	"encoding/json"
	"errors"
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

// countingAWS is a source whose keys change on every fetch, or fail.
type countingAWS struct {
	n    atomic.Int32
	fail atomic.Bool
}

func (s *countingAWS) Name() string { return "bedrock" }
func (s *countingAWS) Fetch(context.Context, *resolver.Credential) (*resolver.Credential, error) {
	if s.fail.Load() {
		return nil, errors.New("bedrock: the export command failed")
	}
	n := s.n.Add(1)
	return &resolver.Credential{Kind: resolver.KindAWS, Source: "bedrock",
		Expiry: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		AWS: &resolver.AWSKeys{AccessKeyID: "AKIASERVE000000000" + string(rune('0'+n)),
			SecretAccessKey: resolver.NewSecret("serve-secret"), SessionToken: resolver.NewSecret("serve-session")}}, nil
}

// TestCredentialServerHandler: the endpoint answers the container-credentials
// document to the run's token only, and GET only.
func TestCredentialServerHandler(t *testing.T) {
	testenv.Hermetic(t)
	src := &countingAWS{}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, ErrorTTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	cs := &credentialServer{r: r, token: "run-token-0123", now: func() time.Time { return time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC) }}
	srv := httptest.NewServer(cs)
	t.Cleanup(srv.Close)

	do := func(method, path, auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name, method, path, auth string
		code                     int
	}{
		{"no token", "GET", servePath, "", 401},
		{"wrong token", "GET", servePath, "run-token-0124", 401},
		{"bearer prefix", "GET", servePath, "Bearer run-token-0123", 401},
		{"token prefix", "GET", servePath, "run-token-012", 401},
		{"other path", "GET", "/latest/meta-data/", "run-token-0123", 404},
		{"POST", "POST", servePath, "run-token-0123", 405},
	} {
		code, body := do(tc.method, tc.path, tc.auth)
		if code != tc.code || strings.Contains(body, "serve-secret") {
			t.Errorf("%s: HTTP %d %s, want %d without keys", tc.name, code, body, tc.code)
		}
	}
	code, body := do("GET", servePath, "run-token-0123")
	want := `{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"AKIASERVE0000000001","SecretAccessKey":"serve-secret","Token":"serve-session","Expiration":"2030-01-02T03:04:05Z","LastUpdated":"2029-01-01T00:00:00Z"}` + "\n"
	if code != 200 || body != want {
		t.Fatalf("GET with the token: HTTP %d\n%s\nwant\n%s", code, body, want)
	}
	// A failing source: 500 with the source's (secret-free) error.
	var doc containerError
	src.fail.Store(true)
	cred, _ := r.Resolve(context.Background())
	if _, err := r.Invalidate(context.Background(), cred); err == nil {
		t.Fatal("invalidate with a failing source succeeded")
	}
	code, body = do("GET", servePath, "run-token-0123")
	if code != 500 || json.Unmarshal([]byte(body), &doc) != nil || doc.Code != "CredentialsUnavailable" || !strings.Contains(doc.Message, "export command failed") {
		t.Fatalf("GET while the source fails: HTTP %d %s", code, body)
	}
}

// TestExecServeNeedsAWS: --serve with a token credential is a clear error
// and the command does not run.
func TestExecServeNeedsAWS(t *testing.T) {
	testenv.Hermetic(t)
	r := runCLI(t, map[string]string{"ANTHROPIC_API_KEY": key40}, nil, "exec", "--serve", "--", "sh", "-c", "echo ran")
	if r.code != 1 || r.out != "" || !strings.Contains(r.err, "exec --serve: serves AWS credentials only") || !strings.Contains(r.err, "kind api_key") ||
		strings.Contains(r.err, key40) {
		t.Fatalf("got %+v", r)
	}
}
