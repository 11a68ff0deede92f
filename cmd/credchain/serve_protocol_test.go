//go:build linux && integration

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/credchain/credchain/internal/testenv"
)

// TestExecServeAWSSDKChild: credchain exec --serve runs an aws-sdk-go-v2
// program (testdata/awschild) that reads its credentials from the
// container endpoint. The AWS source is an export command whose keys last
// 4 s, so credchain's resolver refreshes them in the background; the one
// child process sees three different keys, never has keys in its
// environment, and the endpoint refuses it without the token.
func TestExecServeAWSSDKChild(t *testing.T) {
	testenv.Hermetic(t)
	const childVar = "AWSCHILD_BIN"
	if !inNetns(t, func(t *testing.T) []string {
		return []string{childVar + "=" + goBuild(t, "./testdata/awschild", "awschild")}
	}) {
		return
	}
	child := os.Getenv(childVar)
	if child == "" {
		t.Fatalf("%s is not set: the awschild program was not built", childVar)
	}
	bin := credchainBin(t)
	rec := newArgvRecorder(t, bin)
	dir := t.TempDir()
	counter := filepath.Join(dir, "n")
	export := writeFile(t, dir, "export.sh", `#!/bin/sh
n=$(cat '`+counter+`' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '`+counter+`'
printf '{"AccessKeyId":"AKIAEXPORT%010d","SecretAccessKey":"export-secret-%d-abcdefgh","SessionToken":"export-session-%d","Expiration":"%s"}\n' \
	$n $n $n "$(date -u -d '+4 seconds' +%Y-%m-%dT%H:%M:%SZ)"
`, 0o755)
	env := cliEnv(t, "CLAUDE_CODE_USE_BEDROCK=1", "AWS_REGION=eu-west-3", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"CREDCHAIN_AWS_CREDENTIAL_EXPORT="+export)
	res := runStdin(t, rec.path, env, "", "exec", "--serve", "--", child)
	t.Logf("awschild: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.out, res.err)
	if res.code != 0 {
		t.Fatalf("credchain exec --serve -- awschild: exit %d", res.code)
	}
	if !strings.Contains(res.out, "refused: no token, wrong token") {
		t.Fatalf("the child did not check the endpoint's refusal: %s", res.out)
	}
	keys := regexp.MustCompile(`(?m)^key (AKIAEXPORT\d{10}) source \S+ expires true$`).FindAllStringSubmatch(res.out, -1)
	if len(keys) != 3 {
		t.Fatalf("the child reported %d keys from the export command, want 3:\n%s", len(keys), res.out)
	}
	rec.checkNoSecret(t, "export-secret-", "export-session-")
}
