//go:build unix

package all_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source/all"
)

// childSecrets are set in the parent for TestCommandsGetNoSecrets: one
// variable of each kind the sources declare secret (credential variables,
// descriptor pointers, the renamed api-key variable under both names, the
// CREDCHAIN_ variable of a secret setting) and the store's password.
var childSecrets = map[string]string{
	"ANTHROPIC_API_KEY":                       "sk-ant-parent-api-key",
	"SCRUB_TEST_RENAMED_KEY":                  "sk-ant-renamed-api-key",
	"ANTHROPIC_AUTH_TOKEN":                    "parent-auth-token",
	"CLAUDE_CODE_OAUTH_TOKEN":                 "sk-ant-oat-parent",
	"ANTHROPIC_FOUNDRY_API_KEY":               "parent-foundry-key",
	"ANTHROPIC_IDENTITY_TOKEN":                "parent-identity-token",
	"CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR":     "97",
	"CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR": "98",
	"CREDCHAIN_FILE_PASSWORD":                 "parent-store-password",
}

// childKeeps are set in the parent and must reach the commands: nothing
// secret, and what `aws sso login` or gcloud works with.
var childKeeps = map[string]string{
	"SCRUB_TEST_PLAIN": "visible",
	"AWS_PROFILE":      "scrub-test-no-such-profile",
}

// TestCommandsGetNoSecrets runs every user command a source runs (the
// API-key helper, aws.credential_export, aws.auth_refresh,
// gcp.auth_refresh), built through config.Load, as a child that dumps its
// environment, and checks that none of the variables credchain declares
// secret reached it — the same list credchain exec scrubs — while ordinary
// variables did.
func TestCommandsGetNoSecrets(t *testing.T) {
	const export = `printf '{"Credentials":{"AccessKeyId":"AKIASCRUBTEST","SecretAccessKey":"scrub-secret","SessionToken":"scrub-session"}}'`
	tests := []struct {
		name     string
		source   string
		settings string // YAML; %[1]s is the command that dumps the environment
	}{
		{"api_key_helper", "api-key-helper", "api_key_helper: %[1]q\n"},
		{"bedrock credential_export", "bedrock", "aws:\n  enabled: true\n  region: us-east-1\n  credential_export: %[1]q\n"},
		{"mantle credential_export", "mantle", "aws:\n  mantle_enabled: true\n  region: us-east-1\n  credential_export: %[1]q\n"},
		{"anthropic-aws credential_export", "anthropic-aws", "aws:\n  anthropic_aws_enabled: true\n  anthropic_aws_workspace_id: wrkspc_scrub\n  region: us-east-1\n  credential_export: %[1]q\n"},
		// No AWS credentials anywhere (the profile does not exist): the
		// chain fails and the refresh command runs.
		{"bedrock auth_refresh", "bedrock", "aws:\n  enabled: true\n  region: us-east-1\n  auth_refresh: %[1]q\n"},
		// The metadata server is a dead loopback port and there is no
		// ADC file: getting a token fails and the refresh command runs.
		{"vertex auth_refresh", "vertex", "gcp:\n  enabled: true\n  project: scrub-test\n  region: us-east5\n  auth_refresh: %[1]q\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := testenv.Hermetic(t)
			for k, v := range childSecrets {
				t.Setenv(k, v)
			}
			for k, v := range childKeeps {
				t.Setenv(k, v)
			}
			dump := filepath.Join(home, "child.env")
			line := fmt.Sprintf("env > '%s'", dump)
			switch {
			case strings.HasSuffix(tt.name, "api_key_helper"):
				line += "; echo sk-ant-from-helper"
			case strings.HasSuffix(tt.name, "credential_export"):
				line += "; " + export
			}
			file := filepath.Join(home, "settings.yaml")
			settings := fmt.Sprintf(tt.settings, line) + "variables:\n  api_key: SCRUB_TEST_RENAMED_KEY\n"
			if err := os.WriteFile(file, []byte(settings), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := config.Load(config.LoadOptions{File: file, Sources: all.Sources()})
			if err != nil {
				t.Fatalf("config.Load: %v", err)
			}
			for name := range childSecrets {
				if !slices.Contains(s.SecretVariables(), name) {
					t.Fatalf("SecretVariables() = %v lacks %s: the test sets a variable that is not secret", s.SecretVariables(), name)
				}
			}
			src := sourceNamed(t, s, tt.source)
			// Only the command's environment matters here: the source may
			// well fail afterwards (the refresh commands fix nothing).
			_, _ = src.Fetch(context.Background(), nil)

			got := readEnv(t, dump)
			for _, name := range s.SecretVariables() {
				if v, ok := got[name]; ok {
					t.Errorf("the %s command inherited %s=%q", tt.name, name, v)
				}
			}
			for name, want := range map[string]string{"SCRUB_TEST_PLAIN": "visible", "AWS_PROFILE": childKeeps["AWS_PROFILE"], "HOME": home} {
				if got[name] != want {
					t.Errorf("the %s command has %s=%q, want %q (only secrets are removed)", tt.name, name, got[name], want)
				}
			}
		})
	}
}

// sourceNamed builds the chain of s and returns its source name.
func sourceNamed(t *testing.T, s *config.Settings, name string) resolver.Source {
	t.Helper()
	cfg, err := s.Build(context.Background())
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	for _, src := range cfg.Sources {
		if src.Name() == name {
			return src
		}
	}
	t.Fatalf("source %s is not in the chain %v", name, s.Chain())
	return nil
}

// readEnv parses the output of env(1).
func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("the command did not run: %v", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}
