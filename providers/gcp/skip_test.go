package gcp_test

import (
	"context"
	"testing"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/providers/gcp"
	"github.com/credchain/credchain/resolver"
)

// TestSkipVertexAuth: CLAUDE_CODE_SKIP_VERTEX_AUTH sends no Google token
// (ADC is not even looked for), or the proxy's ANTHROPIC_AUTH_TOKEN.
func TestSkipVertexAuth(t *testing.T) {
	testenv.Hermetic(t)
	t.Setenv("CLAUDE_CODE_USE_VERTEX", "1")
	t.Setenv(gcp.EnvSkipVertexAuth, "1")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/credentials.json")
	src := gcp.New(gcp.Options{})
	if src.Persistent() {
		t.Error("a skipped source has nothing to store")
	}
	cred, err := src.Fetch(context.Background(), nil)
	if err != nil || cred.Kind != resolver.KindNone {
		t.Fatalf("Fetch = %v, %v; want a credential of kind none", cred, err)
	}
	t.Setenv("ANTHROPIC_AUTH_TOKEN", "proxy-token")
	if cred, err := src.Fetch(context.Background(), nil); err != nil || cred.Kind != resolver.KindBearer || cred.Token.Reveal() != "proxy-token" {
		t.Fatalf("Fetch with a proxy token = %v, %v", cred, err)
	}
}
