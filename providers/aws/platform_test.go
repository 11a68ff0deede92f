package aws_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/providers/aws"
	"github.com/credchain/credchain/resolver"
)

// These tests need no moto: a loopback stand-in for STS and for the API
// recomputes every SigV4 signature with the known secret.

const (
	platformKeyID  = "AKIAPLATFORMTEST0001"
	platformSecret = "platform-secret-key-0123456789abcdefghij"
	platformRegion = "us-west-2"
)

// sigv4Check recomputes the request's SigV4 signature with secret and
// reports what does not match: another service or region in the scope, an
// unsigned header that must be signed, or a different signature.
func sigv4Check(r *http.Request, body []byte, secret, service, region string, mustSign ...string) error {
	auth := r.Header.Get("Authorization")
	fields := map[string]string{}
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return fmt.Errorf("not a SigV4 Authorization header: %q", auth)
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[2] != region || scope[3] != service {
		return fmt.Errorf("credential scope %q, want region %s service %s", fields["Credential"], region, service)
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	for _, h := range mustSign {
		if !slices.Contains(signed, strings.ToLower(h)) {
			return fmt.Errorf("header %s is not signed (SignedHeaders %s)", h, fields["SignedHeaders"])
		}
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %w", err)
	}
	again, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	again.Host = r.Host
	for _, h := range signed {
		if h != "host" && h != "content-length" {
			again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := sdkaws.Credentials{AccessKeyID: scope[0], SecretAccessKey: secret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		return err
	}
	want := again.Header.Get("Authorization")
	if want != auth {
		return fmt.Errorf("signature mismatch:\n got  %s\n want %s", auth, want)
	}
	return nil
}

// apiStandIn answers STS GetCallerIdentity (signed for sts) and the
// Messages API (checked by check), and records the API requests.
type apiStandIn struct {
	*httptest.Server
	mu    sync.Mutex
	calls []*http.Request
	check func(r *http.Request, body []byte) error
}

func newAPIStandIn(t *testing.T, check func(r *http.Request, body []byte) error) *apiStandIn {
	t.Helper()
	s := &apiStandIn{check: check}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/" && strings.Contains(string(body), "Action=GetCallerIdentity") {
			if err := sigv4Check(r, body, platformSecret, "sts", platformRegion); err != nil {
				http.Error(w, err.Error(), http.StatusForbidden)
				return
			}
			w.Header().Set("Content-Type", "text/xml")
			fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/alice</Arn><UserId>AIDAALICE</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
			return
		}
		s.mu.Lock()
		s.calls = append(s.calls, r.Clone(context.Background()))
		s.mu.Unlock()
		if err := s.check(r, body); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		_, _ = io.WriteString(w, `{"type":"message"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *apiStandIn) last(t *testing.T) *http.Request {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) == 0 {
		t.Fatal("the API stand-in got no request")
	}
	return s.calls[len(s.calls)-1]
}

// platformEnv is a hermetic environment with static AWS keys and STS on
// the stand-in.
func platformEnv(t *testing.T, sts string) {
	t.Helper()
	testenv.Hermetic(t)
	t.Setenv("AWS_ACCESS_KEY_ID", platformKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", platformSecret)
	t.Setenv("AWS_REGION", platformRegion)
	t.Setenv("AWS_ENDPOINT_URL_STS", sts)
}

func platformResolver(t *testing.T, src resolver.Source) *resolver.Resolver {
	t.Helper()
	r, err := resolver.New(context.Background(), resolver.Config{
		Sources: []resolver.Source{src},
		Signers: map[resolver.Kind]resolver.Signer{resolver.KindAWS: aws.NewSigner()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func postMessages(t *testing.T, rt http.RoundTripper, base string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/v1/messages", strings.NewReader(`{"model":"claude","max_tokens":16,"messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPlatformSigV4VerifiedServerSide: Claude Platform on AWS and Mantle
// sign with the Bedrock chain's keys for their own service names, through
// resolver.Transport; the stand-in recomputes the signature, and for
// Claude Platform on AWS the workspace header is present and signed.
func TestPlatformSigV4VerifiedServerSide(t *testing.T) {
	for _, tc := range []struct {
		name, enable, service string
		newSource             func(aws.Options) *aws.Source
		workspace             bool
	}{
		{aws.NameAnthropicAWS, aws.EnvUseAnthropicAWS, aws.SigningNameAnthropicAWS, aws.NewAnthropicAWS, true},
		{aws.NameMantle, aws.EnvUseMantle, aws.SigningNameMantle, aws.NewMantle, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newAPIStandIn(t, func(r *http.Request, body []byte) error {
				var must []string
				if tc.workspace {
					if got := r.Header.Get(aws.HeaderWorkspaceID); got != "wrkspc_01TEST" {
						return fmt.Errorf("anthropic-workspace-id = %q", got)
					}
					must = append(must, aws.HeaderWorkspaceID)
				}
				return sigv4Check(r, body, platformSecret, tc.service, platformRegion, must...)
			})
			platformEnv(t, srv.URL)
			t.Setenv(tc.enable, "1")
			t.Setenv(aws.EnvAnthropicAWSWorkspaceID, "wrkspc_01TEST")
			src := tc.newSource(aws.Options{HTTPClient: awsLoopbackClient()})
			if err := src.Probe(); err != nil {
				t.Fatalf("Probe with %s=1: %v", tc.enable, err)
			}
			if src.Name() != tc.name || src.SigningName() != tc.service {
				t.Fatalf("Name %q SigningName %q", src.Name(), src.SigningName())
			}
			r := platformResolver(t, src)
			code, body := postMessages(t, r.Transport(nil), srv.URL)
			if code != http.StatusOK {
				t.Fatalf("the stand-in refused the request: %d %s", code, body)
			}
			cred, _ := r.Resolve(context.Background())
			if cred.Meta["arn"] != "arn:aws:iam::123456789012:user/alice" || cred.AWS.Service != tc.service {
				t.Fatalf("credential %v meta %v service %q", cred, cred.Meta, cred.AWS.Service)
			}
			// A tampered workspace header (or a wrong service) no longer
			// verifies: the check can fail.
			req := srv.last(t)
			req.Header.Set(aws.HeaderWorkspaceID, "wrkspc_OTHER")
			if err := sigv4Check(req, []byte(`{"model":"claude","max_tokens":16,"messages":[]}`), platformSecret, tc.service, platformRegion); tc.workspace && err == nil {
				t.Fatal("a changed workspace header still verified")
			}
			if err := sigv4Check(srv.last(t), []byte(`{"model":"claude","max_tokens":16,"messages":[]}`), platformSecret, aws.SigningName, platformRegion); err == nil {
				t.Fatal("the request verified for service bedrock too")
			}
		})
	}
}

// TestPlatformKeys: a key in the environment is sent instead of signing —
// ANTHROPIC_AWS_API_KEY as x-api-key with the workspace header,
// AWS_BEARER_TOKEN_BEDROCK to Mantle as a bearer token — and reaches a
// child in the same variable.
func TestPlatformKeys(t *testing.T) {
	for _, tc := range []struct {
		name, enable, keyVar, key string
		newSource                 func(aws.Options) *aws.Source
		header, value             string
		childEnv                  []string
	}{
		{aws.NameAnthropicAWS, aws.EnvUseAnthropicAWS, aws.EnvAnthropicAWSAPIKey, "sk-ant-aws-key-0123456789", aws.NewAnthropicAWS,
			"X-Api-Key", "sk-ant-aws-key-0123456789",
			[]string{"ANTHROPIC_AWS_API_KEY=sk-ant-aws-key-0123456789", "ANTHROPIC_AWS_WORKSPACE_ID=wrkspc_01TEST"}},
		{aws.NameMantle, aws.EnvUseMantle, aws.EnvBearerToken, "bedrock-api-key-0123456789", aws.NewMantle,
			"Authorization", "Bearer bedrock-api-key-0123456789",
			[]string{"AWS_BEARER_TOKEN_BEDROCK=bedrock-api-key-0123456789"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newAPIStandIn(t, func(*http.Request, []byte) error { return nil })
			platformEnv(t, srv.URL)
			t.Setenv(tc.enable, "1")
			t.Setenv(tc.keyVar, tc.key)
			if tc.name == aws.NameAnthropicAWS {
				t.Setenv(aws.EnvAnthropicAWSWorkspaceID, "wrkspc_01TEST")
			}
			src := tc.newSource(aws.Options{HTTPClient: awsLoopbackClient()})
			if src.Persistent() {
				t.Error("a key from the environment must not be copied into the store")
			}
			r := platformResolver(t, src)
			if code, body := postMessages(t, r.Transport(nil), srv.URL); code != http.StatusOK {
				t.Fatalf("%d %s", code, body)
			}
			req := srv.last(t)
			if req.Header.Get(tc.header) != tc.value || req.Header.Get("X-Amz-Date") != "" {
				t.Fatalf("headers %v, want %s: %s and no signature", req.Header, tc.header, tc.value)
			}
			if ws := req.Header.Get(aws.HeaderWorkspaceID); (tc.name == aws.NameAnthropicAWS) != (ws == "wrkspc_01TEST") {
				t.Fatalf("anthropic-workspace-id = %q", ws)
			}
			cred, _ := r.Resolve(context.Background())
			if got := src.ChildEnv(cred); !slices.Equal(got, tc.childEnv) {
				t.Fatalf("ChildEnv = %q, want %q", got, tc.childEnv)
			}
		})
	}
}

// TestSkipAuth: with CLAUDE_CODE_SKIP_*_AUTH the source signs nothing (a
// proxy adds the credential), and forwards ANTHROPIC_AUTH_TOKEN when set.
func TestSkipAuth(t *testing.T) {
	for _, tc := range []struct {
		name, enable, skip string
		newSource          func(aws.Options) *aws.Source
	}{
		{aws.Name, aws.EnvUseBedrock, aws.EnvSkipBedrockAuth, aws.New},
		{aws.NameAnthropicAWS, aws.EnvUseAnthropicAWS, aws.EnvSkipAnthropicAWSAuth, aws.NewAnthropicAWS},
		{aws.NameMantle, aws.EnvUseMantle, aws.EnvSkipMantleAuth, aws.NewMantle},
	} {
		for _, token := range []string{"", "proxy-token-0123456789"} {
			t.Run(tc.name+"/token="+token, func(t *testing.T) {
				srv := newAPIStandIn(t, func(*http.Request, []byte) error { return nil })
				platformEnv(t, srv.URL)
				t.Setenv(tc.enable, "1")
				t.Setenv(tc.skip, "true")
				t.Setenv(aws.EnvBearerToken, "must-not-be-sent")
				t.Setenv(aws.EnvAnthropicAWSAPIKey, "must-not-be-sent")
				t.Setenv(aws.EnvAuthToken, token)
				src := tc.newSource(aws.Options{HTTPClient: awsLoopbackClient()})
				if src.Persistent() {
					t.Error("a skipped source has nothing to store")
				}
				r := platformResolver(t, src)
				if code, body := postMessages(t, r.Transport(nil), srv.URL); code != http.StatusOK {
					t.Fatalf("%d %s", code, body)
				}
				req := srv.last(t)
				want := ""
				if token != "" {
					want = "Bearer " + token
				}
				if req.Header.Get("Authorization") != want || req.Header.Get("X-Api-Key") != "" || req.Header.Get("X-Amz-Date") != "" {
					t.Fatalf("headers %v, want Authorization %q and nothing else of ours", req.Header, want)
				}
			})
		}
	}
}

// TestAnthropicAWSNeedsWorkspace: without ANTHROPIC_AWS_WORKSPACE_ID every
// request would be refused, so the source says which variable to set.
func TestAnthropicAWSNeedsWorkspace(t *testing.T) {
	platformEnv(t, "http://127.0.0.1:9")
	t.Setenv(aws.EnvUseAnthropicAWS, "1")
	t.Setenv(aws.EnvAnthropicAWSAPIKey, "sk-ant-aws-key-0123456789")
	_, err := aws.NewAnthropicAWS(aws.Options{HTTPClient: awsLoopbackClient()}).Fetch(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "ANTHROPIC_AWS_WORKSPACE_ID is not set") {
		t.Fatalf("Fetch without a workspace: %v", err)
	}
}

// TestPlatformDescribe: status shows the endpoint Claude Code would use.
func TestPlatformDescribe(t *testing.T) {
	platformEnv(t, "http://127.0.0.1:9")
	t.Setenv(aws.EnvAnthropicAWSWorkspaceID, "wrkspc_01TEST")
	got := aws.NewAnthropicAWS(aws.Options{}).Describe()
	if got["base_url"] != "https://aws-external-anthropic.us-west-2.api.aws" || got["service"] != "aws-external-anthropic" || got["workspace_id"] != "wrkspc_01TEST" {
		t.Fatalf("anthropic-aws Describe = %v", got)
	}
	t.Setenv(aws.EnvMantleBaseURL, "https://proxy.example.test/anthropic")
	if got := aws.NewMantle(aws.Options{}).Describe(); got["base_url"] != "https://proxy.example.test/anthropic" || got["service"] != "bedrock-mantle" {
		t.Fatalf("mantle Describe = %v", got)
	}
	if err := aws.NewMantle(aws.Options{}).Probe(); err == nil || !strings.Contains(err.Error(), "CLAUDE_CODE_USE_MANTLE") {
		t.Fatalf("Probe without the flag: %v", err)
	}
}
