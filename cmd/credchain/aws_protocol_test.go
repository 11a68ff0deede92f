//go:build linux && integration

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
)

// TestAWSCLICredentialProcess: the AWS CLI with a profile whose
// credential_process is credchain token --format credential-process calls
// moto's STS with the keys credchain produced (a role credchain assumed
// through moto from base keys in another profile): moto names that
// assumed-role session as the caller. moto verifies every signature
// (startVerifyingMoto), so the keys credchain hands the CLI must be the
// ones STS issued, secret and session token included.
func TestAWSCLICredentialProcess(t *testing.T) {
	testenv.Hermetic(t)
	if !inNetns(t, nil) {
		return
	}
	aws := itest.RequireCommand(t, "aws", "the AWS CLI comes with the machine image's Python (.ci/setup.d/50-clients.sh checks it)")
	bin := credchainBin(t)
	rec := newArgvRecorder(t, bin)
	moto, alice := startVerifyingMoto(t)

	dir := t.TempDir()
	baseSecret := alice.SecretAccessKey
	creds := writeFile(t, dir, "credentials", "[base]\naws_access_key_id = "+alice.AccessKeyID+"\naws_secret_access_key = "+baseSecret+"\n", 0o600)
	cfg := writeFile(t, dir, "config", "[profile cp]\ncredential_process = '"+rec.path+"' token --format credential-process\nregion = eu-west-3\n", 0o600)
	env := cliEnv(t,
		"AWS_CONFIG_FILE="+cfg, "AWS_SHARED_CREDENTIALS_FILE="+creds, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_STS="+moto.URL,
		"CLAUDE_CODE_USE_BEDROCK=1", "CREDCHAIN_AWS_PROFILE=base", "CREDCHAIN_AWS_REGION=eu-west-3",
		"CREDCHAIN_AWS_ROLE_ARN="+alice.RoleARN,
	)
	if root := os.Getenv("PYENV_ROOT"); root != "" {
		env = append(env, "PYENV_ROOT="+root) // the image's aws is a pyenv shim
	}

	// What credchain hands the CLI, for comparison.
	res := runStdin(t, rec.path, env, "", "token", "--format", "credential-process")
	var doc map[string]any
	if res.code != 0 || json.Unmarshal([]byte(res.out), &doc) != nil {
		t.Fatalf("credchain token --format credential-process: exit %d, stdout %q, stderr %s", res.code, res.out, res.err)
	}
	if doc["Version"] != 1.0 || !strings.HasPrefix(doc["AccessKeyId"].(string), "ASIA") || doc["SessionToken"] == "" {
		t.Fatalf("credential_process output %v, want Version 1 and assumed-role keys", doc)
	}
	if _, err := time.Parse(time.RFC3339, doc["Expiration"].(string)); err != nil {
		t.Fatalf("Expiration %v is not RFC 3339: %v", doc["Expiration"], err)
	}

	cmd := exec.Command(aws, "--profile", "cp", "sts", "get-caller-identity", "--endpoint-url", moto.URL, "--output", "json")
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("aws sts get-caller-identity: %v\n%s", err, errb.String())
	}
	var id struct{ Account, Arn, UserID string }
	if err := json.Unmarshal(out.Bytes(), &id); err != nil {
		t.Fatalf("aws printed %q: %v", out.String(), err)
	}
	if id.Account != itest.MotoAccount || !strings.HasPrefix(id.Arn, "arn:aws:sts::123456789012:assumed-role/bedrock-role/") {
		t.Fatalf("aws sts get-caller-identity = %+v, want the role session credchain assumed", id)
	}
	rec.checkNoSecret(t, baseSecret, doc["SecretAccessKey"].(string), doc["SessionToken"].(string))
	if calls := rec.calls(t); len(calls) < 2 {
		t.Errorf("credchain ran %d times (%q), want the test's own call and at least one by the CLI's credential_process", len(calls), calls)
	}
}
