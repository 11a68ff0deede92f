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
