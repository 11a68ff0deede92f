package aws_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/providers/aws"
	"github.com/credchain/credchain/resolver"
)

// Two resolvers share one store; their anthropic-aws sources differ only in
// the workspace. The second never gets the first's stored credential (nor
// its workspace header): it runs the export command itself.
func TestWorkspaceSwitchNeverServesTheOtherRecord(t *testing.T) {
	home := hermeticAWS(t, "")
	t.Setenv(aws.EnvUseAnthropicAWS, "1")
	out := filepath.Join(home, "export.json")
	export := func(keyID string) {
		writeFile(t, out, fmt.Sprintf(`{"AccessKeyId":%q,"SecretAccessKey":"secret-%s","SessionToken":"tok-%s","Expiration":%q}`,
			keyID, keyID, keyID, time.Now().Add(time.Hour).UTC().Format(time.RFC3339)))
	}
	store := cache.NewMemory()
	resolve := func(workspace string) *resolver.Credential {
		t.Helper()
		src := aws.NewAnthropicAWS(options(aws.Options{CredentialExport: "cat " + out, Region: "us-east-1", WorkspaceID: workspace}))
		return testenv.ResolveWith(t, resolver.Config{Sources: []resolver.Source{src}, Store: store})
	}
	export("ASIAWORKSPACEA")
	if a := resolve("wrkspc_a"); a.AWS == nil || a.AWS.AccessKeyID != "ASIAWORKSPACEA" {
		t.Fatalf("workspace a: %v", a)
	}
	export("ASIAWORKSPACEB")
	b := resolve("wrkspc_b")
	if b.AWS == nil || b.AWS.AccessKeyID != "ASIAWORKSPACEB" || b.Headers[aws.HeaderWorkspaceID] != "wrkspc_b" {
		t.Fatalf("workspace b was served %v (headers %v): workspace a's stored record", b, b.Headers)
	}
	// Back to workspace a: its own record, still in the store.
	if a := resolve("wrkspc_a"); a.AWS == nil || a.AWS.AccessKeyID != "ASIAWORKSPACEA" || a.Headers[aws.HeaderWorkspaceID] != "wrkspc_a" {
		t.Fatalf("workspace a, again: %v (headers %v)", a, a.Headers)
	}
}
