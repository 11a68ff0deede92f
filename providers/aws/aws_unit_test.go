package aws_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/providers/aws"
	"github.com/credchain/credchain/resolver"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o700); err != nil {
		t.Fatal(err)
	}
}

func options(o aws.Options) aws.Options {
	o.HTTPClient = awsLoopbackClient()
	return o
}

func TestProbe(t *testing.T) {
	for _, tc := range []struct {
		value   string
		enabled bool
		want    bool
	}{
		{"", false, false}, {"0", false, false}, {"false", false, false}, {"no", false, false},
		{"1", false, true}, {"true", false, true}, {"TRUE", false, true}, {"Yes", false, true}, {"on", false, true},
		{"", true, true},
	} {
		t.Run(fmt.Sprintf("%q/enabled=%v", tc.value, tc.enabled), func(t *testing.T) {
			testenv.Hermetic(t)
			t.Setenv("CLAUDE_CODE_USE_BEDROCK", tc.value)
			err := aws.New(aws.Options{Enabled: tc.enabled}).Probe()
			if tc.want && err != nil {
				t.Fatalf("Probe = %v, want configured", err)
			}
			if !tc.want {
				if !errors.Is(err, resolver.ErrNotConfigured) || !strings.Contains(err.Error(), "CLAUDE_CODE_USE_BEDROCK") {
					t.Fatalf("Probe = %v, want ErrNotConfigured naming CLAUDE_CODE_USE_BEDROCK", err)
				}
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	hermeticAWS(t, "")
	t.Setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-0123456789abcdef")
	t.Setenv("AWS_REGION", "us-east-1")
	src := aws.New(options(aws.Options{}))
	if src.Persistent() {
		t.Error("a token from the environment must not be copied into the store")
	}
	cred, err := src.Fetch(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	name, value, ok := cred.Header()
	if cred.Kind != resolver.KindBearer || !ok || name != "Authorization" || value != "Bearer bedrock-api-key-0123456789abcdef" || !cred.Expiry.IsZero() {
		t.Fatalf("Fetch = %v (%s: %s), want a non-expiring bearer", cred, name, value)
	}
}

// TestSTSUnreachable: a validity check that cannot reach STS (a network
// that only reaches Bedrock) neither blocks the credentials nor runs the
// refresh command; the chain's answer is used.
func TestSTSUnreachable(t *testing.T) {
	home := hermeticAWS(t, "")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEUNCHECKED")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "unchecked-secret")
	count := filepath.Join(home, "refresh.runs")
	cred, err := aws.New(options(aws.Options{Region: "us-east-1", AuthRefresh: "echo run >> " + count})).Fetch(context.Background(), nil)
	if err != nil || cred.AWS.AccessKeyID != "AKIAEXAMPLEUNCHECKED" || cred.Meta["arn"] != "" {
		t.Fatalf("Fetch = %v, %v; want the unchecked keys", cred, err)
	}
	if n := testenv.CountLines(t, count); n != 0 {
		t.Errorf("awsAuthRefresh ran %d times because STS was unreachable; no login fixes a network", n)
	}
}

// TestCABundleNeedsABuildableClient: the SDK applies AWS_CA_BUNDLE only to
// its own client type; any other client is a clear error, not a cryptic one.
func TestCABundleNeedsABuildableClient(t *testing.T) {
	home := hermeticAWS(t, "")
	bundle := filepath.Join(home, "ca.pem")
	writeFile(t, bundle, "")
	t.Setenv("AWS_CA_BUNDLE", bundle)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEUNCHECKED")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "unchecked-secret")
	_, err := aws.New(aws.Options{Region: "us-east-1", HTTPClient: testenv.LoopbackHTTPClient()}).Fetch(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "AWS_CA_BUNDLE") || !strings.Contains(err.Error(), "BuildableClient") {
		t.Fatalf("Fetch = %v, want an error explaining AWS_CA_BUNDLE needs a BuildableClient", err)
	}
}

func TestCredentialExport(t *testing.T) {
	future := time.Now().Add(30 * time.Minute).UTC().Truncate(time.Second)
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	for _, tc := range []struct {
		name    string
		output  string // printed by the command (via a file, so no secret is in its command line)
		command string // overrides the command
		timeout time.Duration
		region  string
		wantErr string
		expiry  time.Time
	}{
		{name: "STS shape", output: fmt.Sprintf(`{"Credentials":{"AccessKeyId":"ASIAEXPORT","SecretAccessKey":%q,"SessionToken":"tok-1234567890abcdef","Expiration":%q}}`, secret, future.Format(time.RFC3339)), region: "us-east-1", expiry: future},
		{name: "top-level fields, offset time", output: fmt.Sprintf(`{"Version":1,"AccessKeyId":"ASIAEXPORT","SecretAccessKey":%q,"SessionToken":"tok-1234567890abcdef","Expiration":%q}`, secret, future.In(time.FixedZone("x", 3600)).Format(time.RFC3339)), region: "us-east-1", expiry: future},
		{name: "no Expiration", output: fmt.Sprintf(`{"AccessKeyId":"ASIAEXPORT","SecretAccessKey":%q,"SessionToken":"tok-1234567890abcdef"}`, secret), region: "us-east-1"},
		{name: "garbage", output: "Enter MFA code: " + secret, region: "us-east-1", wantErr: "not JSON credentials"},
		{name: "empty", output: "", region: "us-east-1", wantErr: "printed nothing"},
		{name: "SessionToken missing", output: fmt.Sprintf(`{"AccessKeyId":"AKIA","SecretAccessKey":%q}`, secret), region: "us-east-1", wantErr: "lacks SessionToken"},
		{name: "expired", output: fmt.Sprintf(`{"AccessKeyId":"ASIA","SecretAccessKey":%q,"SessionToken":"t","Expiration":%q}`, secret, past), region: "us-east-1", wantErr: "already expired"},
		{name: "bad Expiration", output: fmt.Sprintf(`{"AccessKeyId":"ASIA","SecretAccessKey":%q,"SessionToken":"t","Expiration":"tomorrow"}`, secret), region: "us-east-1", wantErr: "not an RFC 3339 time"},
		{name: "command fails", command: "echo 'token expired, run aws-vault login' >&2; exit 2", region: "us-east-1", wantErr: "run aws-vault login"},
		{name: "command hangs", command: "sleep 60", timeout: 300 * time.Millisecond, region: "us-east-1", wantErr: "did not finish within 300ms"},
		{name: "region missing", output: fmt.Sprintf(`{"AccessKeyId":"ASIA","SecretAccessKey":%q,"SessionToken":"t"}`, secret), wantErr: "aws.region or AWS_REGION"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := hermeticAWS(t, "")
			out := filepath.Join(home, "export.json")
			writeFile(t, out, tc.output)
			command := "cat " + out
			if tc.command != "" {
				command = tc.command
			}
			src := aws.New(options(aws.Options{CredentialExport: command, Region: tc.region, CommandTimeout: tc.timeout}))
			if !src.Persistent() {
				t.Error("exported credentials should be shared through the store")
			}
			cred, err := src.Fetch(context.Background(), nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Fetch = %v, %v; want an error containing %q", cred, err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), "aws.credential_export (awsCredentialExport)") && !strings.Contains(err.Error(), "aws.region") {
					t.Errorf("the error does not name the setting: %v", err)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error quotes the command's secret output: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cred.Kind != resolver.KindAWS || cred.AWS.AccessKeyID != "ASIAEXPORT" || cred.AWS.SecretAccessKey.Reveal() != secret ||
				cred.AWS.SessionToken.Reveal() != "tok-1234567890abcdef" || cred.AWS.Region != "us-east-1" || !cred.Expiry.Equal(tc.expiry) {
				t.Fatalf("Fetch = %v (expiry %v), want the exported keys expiring %v", cred, cred.Expiry, tc.expiry)
			}
			if tc.expiry.IsZero() && cred.RefreshAt.IsZero() {
				t.Error("credentials without Expiration are never re-read")
			}
		})
	}
}

// hermeticAWS makes the test hermetic and points STS at sts (at a dead
// loopback port when sts is empty). It returns the temporary HOME, with empty AWS config
// and credentials files in it.
func hermeticAWS(t *testing.T, sts string) string {
	t.Helper()
	home := testenv.Hermetic(t)
	t.Setenv("CLAUDE_CODE_USE_BEDROCK", "1")
	if sts == "" {
		sts = fmt.Sprintf("http://127.0.0.1:%d", testenv.DeadPort(t))
	}
	t.Setenv("AWS_ENDPOINT_URL_STS", sts)
	// Variables testenv.Hermetic does not know about that would change
	// what these tests expect.
	for _, v := range []string{"AWS_ROLE_SESSION_NAME", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_SDK_LOAD_CONFIG", "AWS_STS_REGIONAL_ENDPOINTS"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "credentials"))
	writeFile(t, filepath.Join(home, "config"), "")
	writeFile(t, filepath.Join(home, "credentials"), "")
	return home
}

// awsLoopbackClient is testenv.LoopbackHTTPClient for aws-sdk-go-v2. It is
// an awshttp.BuildableClient because the SDK applies AWS_CA_BUNDLE (set on
// these machines) only to that type; any other client fails to load.
func awsLoopbackClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.DialContext = testenv.LoopbackDial
		tr.Proxy = nil
	})
}

const modelBody = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
