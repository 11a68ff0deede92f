//go:build unix && integration

package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
)

// TestBedrockCLI: credchain with source bedrock, its AWS credentials
// assumed through moto's STS, as `token --format json` and `exec` give them.
// moto verifies every signature (startVerifyingMoto): the AssumeRole
// credchain signs with the base keys, and the aws CLI's call signed with
// the keys `exec` hands it, succeed only with the right secrets.
func TestBedrockCLI(t *testing.T) {
	testenv.Hermetic(t)
	moto, id := startVerifyingMoto(t)
	env := cliEnv(t,
		"CLAUDE_CODE_USE_BEDROCK=1",
		"AWS_ACCESS_KEY_ID="+id.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+id.SecretAccessKey,
		"AWS_REGION=eu-west-3", "AWS_ENDPOINT_URL_STS="+moto.URL,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"CREDCHAIN_AWS_ROLE_ARN="+id.RoleARN,
		"GCE_METADATA_HOST=127.0.0.1:"+strconv.Itoa(testenv.DeadPort(t)),
	)
	res := runBinary(t, env, nil, "token", "--format", "json")
	if res.code != 0 {
		t.Fatalf("credchain token: exit %d: %s", res.code, res.err)
	}
	var tok map[string]any
	if err := json.Unmarshal([]byte(res.out), &tok); err != nil {
		t.Fatalf("token output %q: %v", res.out, err)
	}
	if tok["source"] != "bedrock" || tok["kind"] != "aws" || !strings.HasPrefix(tok["access_key_id"].(string), "ASIA") ||
		tok["secret_access_key"] == "" || tok["session_token"] == "" || tok["region"] != "eu-west-3" || tok["expires_at"] == nil {
		t.Fatalf("token --format json = %v, want assumed-role keys with region and expiry", tok)
	}
	res = runBinary(t, env, nil, "exec", "--", "sh", "-c", `echo "$AWS_ACCESS_KEY_ID|${AWS_SESSION_TOKEN:+set}|$AWS_REGION"`)
	if res.code != 0 || !strings.HasPrefix(res.out, "ASIA") || !strings.HasSuffix(strings.TrimSpace(res.out), "|set|eu-west-3") {
		t.Fatalf("credchain exec: exit %d, stdout %q, stderr %s", res.code, res.out, res.err)
	}
	// A real AWS client takes the assumed-role session from credchain
	// exec's environment: moto's STS recognises the session it issued.
	aws := itest.RequireCommand(t, "aws", "the AWS CLI comes with the machine image's Python")
	if root := os.Getenv("PYENV_ROOT"); root != "" {
		env = append(env, "PYENV_ROOT="+root) // the image's aws is a pyenv shim
	}
	res = runBinary(t, env, nil, "exec", "--", aws, "sts", "get-caller-identity", "--endpoint-url", moto.URL, "--output", "json")
	if res.code != 0 || !strings.Contains(res.out, `"Arn": "arn:aws:sts::123456789012:assumed-role/bedrock-role/credchain"`) {
		t.Fatalf("credchain exec -- aws sts get-caller-identity: exit %d, stdout %s, stderr %s", res.code, res.out, res.err)
	}
}

// TestVertexCLI: credchain with source vertex, a service-account token
// from the Google fake, as `token`, `exec` and `status` give it.
func TestVertexCLI(t *testing.T) {
	testenv.Hermetic(t)
	fake := testenv.NewGoogleFake(t)
	sa := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(sa, fake.ServiceAccountJSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	env := cliEnv(t,
		"CLAUDE_CODE_USE_VERTEX=1", "GOOGLE_APPLICATION_CREDENTIALS="+sa, "CLOUD_ML_REGION=europe-west4",
		"GCE_METADATA_HOST=127.0.0.1:"+strconv.Itoa(testenv.DeadPort(t)), "AWS_EC2_METADATA_DISABLED=true",
	)
	res := runBinary(t, env, nil, "token")
	if tok := strings.TrimSpace(res.out); res.code != 0 || !fake.IsIssued(tok, testenv.GrantJWTBearer) {
		t.Fatalf("credchain token: exit %d, stdout %q, stderr %s", res.code, res.out, res.err)
	}
	res = runBinary(t, env, nil, "exec", "--", "sh", "-c", `[ "$GOOGLE_OAUTH_ACCESS_TOKEN" = "$CLOUDSDK_AUTH_ACCESS_TOKEN" ] && echo "${GOOGLE_OAUTH_ACCESS_TOKEN%%-*}"`)
	if res.code != 0 || strings.TrimSpace(res.out) != "ya29.sa" {
		t.Fatalf("credchain exec: exit %d, stdout %q, stderr %s", res.code, res.out, res.err)
	}
	res = runBinary(t, env, nil, "status", "--json")
	if res.code != 0 || !strings.Contains(res.out, `"project": "fake-project"`) && !strings.Contains(res.out, `"project":"fake-project"`) ||
		!strings.Contains(res.out, "europe-west4") {
		t.Fatalf("credchain status --json: exit %d, stdout %s, stderr %s; want project and region", res.code, res.out, res.err)
	}
	fake.Check(t)
}

// startVerifyingMoto starts a moto server that verifies the SigV4 signature
// (and IAM policy) of every request after the four unauthenticated set-up
// calls of itest.Moto.SetupIAM, and returns it with the identity SetupIAM
// made: user alice's access key and the role bedrock-role she may assume.
// A request signed with a wrong secret gets 403 SignatureDoesNotMatch.
func startVerifyingMoto(t *testing.T) (*itest.Moto, itest.MotoIdentity) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	moto, err := itest.StartMoto(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(moto.Close)
	id, err := moto.SetupIAM(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return moto, id
}
