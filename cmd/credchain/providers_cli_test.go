package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/source/all"
)

// TestDefaultChainOrder: Claude Code's precedence — a gateway session
// first, the providers (Bedrock, Foundry, Claude Platform on AWS, Mantle,
// Vertex), then the first-party credentials, federation just above the
// stored login.
func TestDefaultChainOrder(t *testing.T) {
	want := []string{"gateway", "bedrock", "foundry", "anthropic-aws", "mantle", "vertex", "auth-token", "api-key",
		"api-key-fd", "api-key-helper", "oauth-token", "oauth-token-fd", "federation", "oauth"}
	if got := config.DefaultChain(all.Sources()); !slices.Equal(got, want) {
		t.Fatalf("default chain %v\nwant          %v", got, want)
	}
}

func sessionJWT(exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"ES256"}`)) + "." + enc([]byte(fmt.Sprintf(`{"sub":"alice","exp":%d}`, exp.Unix()))) + ".c2ln"
}

// TestProviderWinner: which source wins when several are turned on, from
// token --format json.
func TestProviderWinner(t *testing.T) {
	testenv.Hermetic(t)
	gw := sessionJWT(time.Now().Add(time.Hour))
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"gateway outranks providers", map[string]string{"CLAUDE_CODE_USE_GATEWAY": "1", "ANTHROPIC_BASE_URL": "https://gw.corp.internal", "ANTHROPIC_AUTH_TOKEN": gw,
			"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_BEARER_TOKEN_BEDROCK": "br-key"}, "gateway"},
		{"bedrock before foundry", map[string]string{"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_BEARER_TOKEN_BEDROCK": "br-key",
			"CLAUDE_CODE_USE_FOUNDRY": "1", "ANTHROPIC_FOUNDRY_API_KEY": "fk"}, "bedrock"},
		{"foundry before anthropic-aws", map[string]string{"CLAUDE_CODE_USE_FOUNDRY": "1", "ANTHROPIC_FOUNDRY_API_KEY": "fk",
			"CLAUDE_CODE_USE_ANTHROPIC_AWS": "1", "ANTHROPIC_AWS_API_KEY": "ak", "ANTHROPIC_AWS_WORKSPACE_ID": "wrkspc_1"}, "foundry"},
		{"anthropic-aws before mantle", map[string]string{"CLAUDE_CODE_USE_ANTHROPIC_AWS": "1", "ANTHROPIC_AWS_API_KEY": "ak", "ANTHROPIC_AWS_WORKSPACE_ID": "wrkspc_1",
			"CLAUDE_CODE_USE_MANTLE": "1", "AWS_BEARER_TOKEN_BEDROCK": "br-key"}, "anthropic-aws"},
		{"mantle before vertex", map[string]string{"CLAUDE_CODE_USE_MANTLE": "1", "AWS_BEARER_TOKEN_BEDROCK": "br-key",
			"CLAUDE_CODE_USE_VERTEX": "1", "CLAUDE_CODE_SKIP_VERTEX_AUTH": "1"}, "mantle"},
		{"an API key before federation", map[string]string{"ANTHROPIC_API_KEY": key40,
			"ANTHROPIC_FEDERATION_RULE_ID": "fdrl_1", "ANTHROPIC_ORGANIZATION_ID": "org"}, "api-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.env, nil, "token", "--format", "json")
			var got struct{ Source string }
			if r.code != 0 || json.Unmarshal([]byte(r.out), &got) != nil || got.Source != tt.want {
				t.Fatalf("got %+v, want source %s", r, tt.want)
			}
		})
	}
}

// TestProviderChildEnv: credchain exec (and token --format env) hand a
// child the variables its SDK reads for the winning provider, with the
// other credential variables removed.
func TestProviderChildEnv(t *testing.T) {
	testenv.Hermetic(t)
	gw := sessionJWT(time.Now().Add(time.Hour))
	vars := []string{"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_FOUNDRY_API_KEY", "ANTHROPIC_FOUNDRY_BASE_URL",
		"ANTHROPIC_AWS_API_KEY", "ANTHROPIC_AWS_WORKSPACE_ID", "AWS_BEARER_TOKEN_BEDROCK", "CLAUDE_CODE_SKIP_MANTLE_AUTH"}
	var script strings.Builder
	script.WriteString("printf '")
	for range vars {
		script.WriteString("%s|")
	}
	script.WriteString("'")
	for _, v := range vars {
		script.WriteString(` "${` + v + `-unset}"`)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"foundry key", map[string]string{"CLAUDE_CODE_USE_FOUNDRY": "1", "ANTHROPIC_FOUNDRY_API_KEY": "foundry-key", "ANTHROPIC_FOUNDRY_RESOURCE": "res", "ANTHROPIC_API_KEY": key40,
			"ANTHROPIC_AWS_API_KEY": "declared-secret-of-another-source"},
			"unset|unset|foundry-key|https://res.services.ai.azure.com/anthropic|unset|unset|unset|unset|"},
		{"claude platform on aws key", map[string]string{"CLAUDE_CODE_USE_ANTHROPIC_AWS": "1", "ANTHROPIC_AWS_API_KEY": "aws-key", "ANTHROPIC_AWS_WORKSPACE_ID": "wrkspc_1"},
			"unset|unset|unset|unset|aws-key|wrkspc_1|unset|unset|"},
		{"mantle bearer", map[string]string{"CLAUDE_CODE_USE_MANTLE": "1", "AWS_BEARER_TOKEN_BEDROCK": "br-key", "ANTHROPIC_AUTH_TOKEN": "other"},
			"unset|unset|unset|unset|unset|unset|br-key|unset|"},
		{"mantle behind a signing proxy", map[string]string{"CLAUDE_CODE_USE_MANTLE": "1", "CLAUDE_CODE_SKIP_MANTLE_AUTH": "1"},
			"unset|unset|unset|unset|unset|unset|unset|1|"},
		{"gateway", map[string]string{"CLAUDE_CODE_USE_GATEWAY": "1", "ANTHROPIC_BASE_URL": "https://gw.corp.internal", "ANTHROPIC_AUTH_TOKEN": gw, "ANTHROPIC_API_KEY": key40},
			"unset|" + gw + "|unset|unset|unset|unset|unset|unset|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.env, nil, "exec", "--", "sh", "-c", script.String())
			if r.code != 0 || r.out != tt.want {
				t.Fatalf("got %+v\nwant %s", r, tt.want)
			}
		})
	}
	r := runCLI(t, tests[0].env, nil, "token", "--format", "env")
	if r.code != 0 || r.out != "export ANTHROPIC_FOUNDRY_API_KEY='foundry-key'\nexport ANTHROPIC_FOUNDRY_BASE_URL='https://res.services.ai.azure.com/anthropic'\n" {
		t.Fatalf("token --format env: %+v", r)
	}
}

// TestFederationRefusedIsExit4: an exchange answered invalid_grant is
// "login required" (exit 4) and says the identity token was refused.
func TestFederationRefusedIsExit4(t *testing.T) {
	home := testenv.Hermetic(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"The identity token could not be validated"}`))
	}))
	t.Cleanup(srv.Close)
	tokenFile := filepath.Join(home, "token")
	if err := os.WriteFile(tokenFile, []byte("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, map[string]string{"ANTHROPIC_FEDERATION_RULE_ID": "fdrl_1", "ANTHROPIC_ORGANIZATION_ID": "org-uuid",
		"ANTHROPIC_IDENTITY_TOKEN_FILE": tokenFile, "ANTHROPIC_BASE_URL": srv.URL}, nil, "token")
	if r.code != exitLoginRequired || !strings.Contains(r.err, "the identity token was refused") || strings.Contains(r.err, "eyJ") {
		t.Fatalf("got %+v", r)
	}
	r = runCLI(t, map[string]string{"ANTHROPIC_FEDERATION_RULE_ID": "fdrl_1"}, nil, "token")
	if r.code != 1 || !strings.Contains(r.err, "ANTHROPIC_ORGANIZATION_ID is not") {
		t.Fatalf("rule without organization: %+v", r)
	}
}

// TestProviderStatus: status describes each new source without a secret.
func TestProviderStatus(t *testing.T) {
	testenv.Hermetic(t)
	r := runCLI(t, map[string]string{"CLAUDE_CODE_USE_ANTHROPIC_AWS": "1", "ANTHROPIC_AWS_API_KEY": "aws-key-0123456789abcdef",
		"ANTHROPIC_AWS_WORKSPACE_ID": "wrkspc_1", "AWS_REGION": "us-west-2"}, nil, "status", "--json")
	if r.code != 0 || !strings.Contains(r.out, `"base_url": "https://aws-external-anthropic.us-west-2.api.aws"`) ||
		!strings.Contains(r.out, `"workspace_id": "wrkspc_1"`) || strings.Contains(r.out, "aws-key-0123456789abcdef") {
		t.Fatalf("status --json: %+v", r)
	}
}
