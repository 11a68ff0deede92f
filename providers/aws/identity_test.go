package aws_test

import (
	"strings"
	"testing"

	"github.com/credchain/credchain/providers/aws"
)

// TestIdentity: whatever decides whose AWS credentials the record holds
// changes the identity; the export command appears only as a hash.
func TestIdentity(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	base := aws.New(aws.Options{Getenv: env(map[string]string{"AWS_PROFILE": "a", "AWS_REGION": "us-east-1"})})
	for name, other := range map[string]*aws.Source{
		"profile":     aws.New(aws.Options{Getenv: env(map[string]string{"AWS_PROFILE": "b", "AWS_REGION": "us-east-1"})}),
		"role":        aws.New(aws.Options{RoleARN: "arn:aws:iam::1:role/B", Getenv: env(map[string]string{"AWS_PROFILE": "a", "AWS_REGION": "us-east-1"})}),
		"region":      aws.New(aws.Options{Getenv: env(map[string]string{"AWS_PROFILE": "a", "AWS_REGION": "eu-west-1"})}),
		"export":      aws.New(aws.Options{CredentialExport: "get-creds --token s3cr3t", Getenv: env(map[string]string{"AWS_PROFILE": "a", "AWS_REGION": "us-east-1"})}),
		"config file": aws.New(aws.Options{Getenv: env(map[string]string{"AWS_PROFILE": "a", "AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": "/other"})}),
	} {
		if other.Identity() == base.Identity() {
			t.Errorf("%s: a different %s has the same identity %q", name, name, base.Identity())
		}
		if strings.Contains(other.Identity(), "s3cr3t") {
			t.Errorf("%s: identity %q shows the export command", name, other.Identity())
		}
	}
	same := aws.New(aws.Options{Getenv: env(map[string]string{"AWS_PROFILE": "a", "AWS_REGION": "us-east-1"})})
	if same.Identity() != base.Identity() {
		t.Errorf("identical settings, identities %q and %q", same.Identity(), base.Identity())
	}
}

// TestPlatformIdentity: the workspace of Claude Platform on AWS (whose
// header the stored credential carries) and the service are part of the
// identity; bedrock's identity has neither, so its records keep the keys
// they were stored under.
func TestPlatformIdentity(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	vars := map[string]string{"AWS_PROFILE": "a", "AWS_REGION": "us-east-1"}
	if got, want := aws.New(aws.Options{Getenv: env(vars)}).Identity(), "profile=a region=us-east-1"; got != want {
		t.Errorf("bedrock identity %q, want %q (unchanged, or stored records are orphaned)", got, want)
	}
	a := aws.NewAnthropicAWS(aws.Options{WorkspaceID: "wrkspc_a", Getenv: env(vars)})
	b := aws.NewAnthropicAWS(aws.Options{WorkspaceID: "wrkspc_b", Getenv: env(vars)})
	if !strings.Contains(a.Identity(), "workspace=wrkspc_a") || !strings.Contains(a.Identity(), "service="+aws.SigningNameAnthropicAWS) {
		t.Errorf("anthropic-aws identity %q lacks the workspace or the service", a.Identity())
	}
	if a.Identity() == b.Identity() {
		t.Errorf("two workspaces share the identity %q", a.Identity())
	}
	fromVar := aws.NewAnthropicAWS(aws.Options{Getenv: env(map[string]string{"AWS_PROFILE": "a", "AWS_REGION": "us-east-1", aws.EnvAnthropicAWSWorkspaceID: "wrkspc_b"})})
	if fromVar.Identity() != b.Identity() {
		t.Errorf("the workspace from %s gives identity %q, from the option %q", aws.EnvAnthropicAWSWorkspaceID, fromVar.Identity(), b.Identity())
	}
	if m := aws.NewMantle(aws.Options{Getenv: env(vars)}).Identity(); !strings.Contains(m, "service="+aws.SigningNameMantle) {
		t.Errorf("mantle identity %q lacks the service", m)
	}
}
