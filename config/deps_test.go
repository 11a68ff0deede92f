package config_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// cloudSDK matches the import paths of the AWS, Google and Azure SDKs.
var cloudSDK = regexp.MustCompile(`^(github\.com/aws/|cloud\.google\.com/|google\.golang\.org/|github\.com/googleapis/|github\.com/Azure/|github\.com/AzureAD/)`)

// TestNoCloudSDK: config, resolver and source link no cloud SDK, so an
// embedder links one only by importing a provider source (issue 10).
// .ci/startup-check.sh checks the same for the other sources.
func TestNoCloudSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps",
		"github.com/credchain/credchain/config", "github.com/credchain/credchain/resolver", "github.com/credchain/credchain/source").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if cloudSDK.MatchString(pkg) {
			t.Errorf("%s is linked by config, resolver or source", pkg)
		}
	}
}
