package gcp_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credchain/credchain/providers/gcp"
)

// TestIdentity: another credentials file, impersonation target, scopes or
// token URL is another identity; the file's secrets are never in it.
func TestIdentity(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a.json", `{"type":"impersonated_service_account","service_account_impersonation_url":"https://x/sa-a:generateAccessToken","source_credentials":{"refresh_token":"SECRET-RT"}}`)
	b := write("b.json", `{"type":"impersonated_service_account","service_account_impersonation_url":"https://x/sa-b:generateAccessToken","source_credentials":{"refresh_token":"SECRET-RT"}}`)
	getenv := func(string) string { return "" }
	base := gcp.New(gcp.Options{CredentialsFile: a, Getenv: getenv})
	if id := base.Identity(); !strings.Contains(id, "sa-a") || strings.Contains(id, "SECRET") {
		t.Fatalf("identity %q: want the impersonation target and no secret", id)
	}
	for name, other := range map[string]*gcp.Source{
		"impersonation target": gcp.New(gcp.Options{CredentialsFile: b, Getenv: getenv}),
		"scopes":               gcp.New(gcp.Options{CredentialsFile: a, Scopes: []string{"https://www.googleapis.com/auth/other"}, Getenv: getenv}),
		"token url":            gcp.New(gcp.Options{CredentialsFile: a, TokenURL: "http://127.0.0.1:9/token", Getenv: getenv}),
	} {
		if other.Identity() == base.Identity() {
			t.Errorf("another %s has the same identity %q", name, base.Identity())
		}
	}
}
