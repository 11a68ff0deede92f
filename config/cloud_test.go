package config

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/providers/aws"
	"github.com/credchain/credchain/providers/gcp"
	"github.com/credchain/credchain/resolver"
)

// cloudSources returns the bedrock and vertex sources cfg was built with.
func cloudSources(t *testing.T, cfg resolver.Config) (*aws.Source, *gcp.Source) {
	t.Helper()
	var b *aws.Source
	var v *gcp.Source
	for _, src := range cfg.Sources {
		switch x := src.(type) {
		case *aws.Source:
			if x.Name() == aws.Name { // not anthropic-aws or mantle
				b = x
			}
		case *gcp.Source:
			v = x
		}
	}
	if b == nil || v == nil {
		t.Fatalf("sources %v lack bedrock or vertex", cfg.Sources)
	}
	return b, v
}

// checkProbe checks a source's Probe says on, or off naming variable.
func checkProbe(t *testing.T, name string, err error, on bool, variable string) {
	t.Helper()
	if on != (err == nil) {
		t.Errorf("%s: Probe = %v, want configured=%v", name, err, on)
	}
	if !on && (!errors.Is(err, resolver.ErrNotConfigured) || !strings.Contains(err.Error(), variable)) {
		t.Errorf("%s: Probe = %v, want not configured naming %s", name, err, variable)
	}
}

// TestCloudSourcesFromSettings: the aws and gcp sections reach the bedrock
// and vertex sources, bedrock registers its SigV4 signer, and the renamed
// switch variables are honoured.
func TestCloudSourcesFromSettings(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "c.yaml", "aws:\n  region: eu-central-1\n  profile: corp\n  role_arn: arn:aws:iam::123456789012:role/r\n"+
		"gcp:\n  project: my-project\n  region: europe-west4\n  token_url: http://127.0.0.1:1/token\n"+
		"variables:\n  use_bedrock: MY_USE_BEDROCK\n")
	for _, tc := range []struct {
		name              string
		env               mapEnv
		bedrockOn, vertex bool
	}{
		{"both off", mapEnv{"CLAUDE_CODE_USE_BEDROCK": "1"}, false, false},
		{"both on", mapEnv{"MY_USE_BEDROCK": "true", "CLAUDE_CODE_USE_VERTEX": "1"}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["CREDCHAIN_STORE_BACKEND"] = "memory"
			s, err := load(t, tc.env, file, nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := s.Build(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			// bedrock, anthropic-aws and mantle each bring a SigV4 signer
			// for kind aws; a bedrock credential is signed for bedrock.
			req, _ := http.NewRequest(http.MethodPost, "https://bedrock-runtime.eu-central-1.amazonaws.com/model/m/invoke", nil)
			cred := &resolver.Credential{Kind: resolver.KindAWS, Source: aws.Name, AWS: &resolver.AWSKeys{
				AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: resolver.NewSecret("secret"), Region: "eu-central-1"}}
			if sg := cfg.Signers[resolver.KindAWS]; sg == nil || sg.Sign(context.Background(), req, cred) != nil ||
				!strings.Contains(req.Header.Get("Authorization"), "/eu-central-1/bedrock/aws4_request") {
				t.Fatalf("Signers = %v, want the SigV4 signer of bedrock for kind aws (Authorization %q)", cfg.Signers, req.Header.Get("Authorization"))
			}
			b, v := cloudSources(t, cfg)
			if d := b.Describe(); d["region"] != "eu-central-1" || d["profile"] != "corp" || d["role_arn"] != "arn:aws:iam::123456789012:role/r" {
				t.Errorf("bedrock Describe = %v", d)
			}
			if d := v.Describe(); d["project"] != "my-project" || d["region"] != "europe-west4" || d["token_url"] != "http://127.0.0.1:1/token" {
				t.Errorf("vertex Describe = %v", d)
			}
			checkProbe(t, "bedrock", b.Probe(), tc.bedrockOn, "MY_USE_BEDROCK")
			checkProbe(t, "vertex", v.Probe(), tc.vertex, "CLAUDE_CODE_USE_VERTEX")
		})
	}
}

// TestEnabledSourcesAgreesWithProbe: what the descriptors' Enabled say
// without building a source is what the built sources' Probe say.
func TestEnabledSourcesAgreesWithProbe(t *testing.T) {
	testenv.Hermetic(t)
	tests := []struct {
		name string
		env  mapEnv
		want []string
	}{
		{"nothing turned on", mapEnv{}, nil},
		{"bedrock by variable", mapEnv{"CLAUDE_CODE_USE_BEDROCK": "1"}, []string{"bedrock"}},
		{"vertex by variable, any case", mapEnv{"CLAUDE_CODE_USE_VERTEX": " TRUE "}, []string{"vertex"}},
		{"falsy values", mapEnv{"CLAUDE_CODE_USE_BEDROCK": "0", "CLAUDE_CODE_USE_VERTEX": "off"}, nil},
		{"both, in chain order", mapEnv{"CLAUDE_CODE_USE_VERTEX": "yes", "CLAUDE_CODE_USE_BEDROCK": "on"}, []string{"bedrock", "vertex"}},
		{"aws.enabled setting", mapEnv{"CREDCHAIN_AWS_ENABLED": "true"}, []string{"bedrock"}},
		{"gcp.enabled setting", mapEnv{"CREDCHAIN_GCP_ENABLED": "true"}, []string{"vertex"}},
		{"renamed variable", mapEnv{"CREDCHAIN_VARIABLES_USE_BEDROCK": "MY_BEDROCK", "MY_BEDROCK": "1", "CLAUDE_CODE_USE_BEDROCK": "1"}, []string{"bedrock"}},
		{"renamed variable unset", mapEnv{"CREDCHAIN_VARIABLES_USE_BEDROCK": "MY_BEDROCK", "CLAUDE_CODE_USE_BEDROCK": "1"}, nil},
		{"not in the chain", mapEnv{"CREDCHAIN_CHAIN": "api-key,vertex", "CLAUDE_CODE_USE_BEDROCK": "1"}, nil},
		{"environment keys", mapEnv{"ANTHROPIC_API_KEY": "k", "CLAUDE_CODE_OAUTH_TOKEN": "t", "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR": "x"},
			[]string{"api-key", "api-key-fd", "oauth-token"}},
		{"helper", mapEnv{"CREDCHAIN_API_KEY_HELPER": "echo k"}, []string{"api-key-helper"}},
		{"blank values", mapEnv{"ANTHROPIC_API_KEY": " ", "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR": " "}, []string{"oauth-token-fd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["CREDCHAIN_STORE_BACKEND"] = "memory"
			s, err := load(t, tt.env, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			// oauth has no cheap test (a stored login), so counts as on.
			got := slices.DeleteFunc(s.EnabledSources(), func(n string) bool { return n == "oauth" })
			if !slices.Equal(got, tt.want) {
				t.Fatalf("EnabledSources() = %q, want %q", got, tt.want)
			}
			cfg, err := s.Build(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, src := range cfg.Sources {
				p, ok := src.(resolver.Prober)
				if !ok || src.Name() == "oauth" {
					continue
				}
				err := p.Probe()
				on := err == nil || !errors.Is(err, resolver.ErrNotConfigured) // configured but failing counts as on
				if on != slices.Contains(got, src.Name()) {
					t.Errorf("%s: Probe says turned on = %v (%v), EnabledSources says %v", src.Name(), on, err, !on)
				}
			}
		})
	}
}
