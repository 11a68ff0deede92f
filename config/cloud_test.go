package config

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/providers/aws"
	"github.com/credchain/credchain/providers/gcp"
	"github.com/credchain/credchain/resolver"
)

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
			if _, ok := cfg.Signers[resolver.KindAWS].(*aws.Signer); !ok {
				t.Fatalf("Signers = %v, want the SigV4 signer for kind aws", cfg.Signers)
			}
			var b *aws.Source
			var v *gcp.Source
			for _, src := range cfg.Sources {
				switch x := src.(type) {
				case *aws.Source:
					b = x
				case *gcp.Source:
					v = x
				}
			}
			if b == nil || v == nil {
				t.Fatalf("sources %v lack bedrock or vertex", cfg.Sources)
			}
			if d := b.Describe(); d["region"] != "eu-central-1" || d["profile"] != "corp" || d["role_arn"] != "arn:aws:iam::123456789012:role/r" {
				t.Errorf("bedrock Describe = %v", d)
			}
			if d := v.Describe(); d["project"] != "my-project" || d["region"] != "europe-west4" || d["token_url"] != "http://127.0.0.1:1/token" {
				t.Errorf("vertex Describe = %v", d)
			}
			for _, c := range []struct {
				on       bool
				err      error
				variable string
			}{{tc.bedrockOn, b.Probe(), "MY_USE_BEDROCK"}, {tc.vertex, v.Probe(), "CLAUDE_CODE_USE_VERTEX"}} {
				if c.on != (c.err == nil) {
					t.Errorf("Probe = %v, want configured=%v", c.err, c.on)
				}
				if !c.on && (!errors.Is(c.err, resolver.ErrNotConfigured) || !strings.Contains(c.err.Error(), c.variable)) {
					t.Errorf("Probe = %v, want not configured naming %s", c.err, c.variable)
				}
			}
		})
	}
}
