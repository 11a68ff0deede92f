package anthropicsdk_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/bedrock"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"

	"github.com/credchain/credchain/apikey"
	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/integrations/anthropicsdk"
	"github.com/credchain/credchain/internal/testenv"
	credaws "github.com/credchain/credchain/providers/aws"
	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source/all"
)

const childEnv = "CREDCHAIN_ANTHROPICSDK_CHILD"

// TestMain dispatches the re-executed child of TestFDTokenInChild.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// childMain is a program that embeds credchain as the README shows: the
// chain from the settings and environment, the SDK options, one request.
func childMain() int {
	ctx := context.Background()
	settings, err := config.Load(config.LoadOptions{Sources: all.Sources()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg, err := settings.Build(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	r, err := resolver.New(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer r.Close()
	opts, err := anthropicsdk.Options(ctx, r)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	client := anthropic.NewClient(opts...)
	if _, err := client.Messages.New(ctx, params()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func params() anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     "claude-test",
		MaxTokens: 16,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello"))},
	}
}

// hermetic clears the environment and points credchain's store at memory.
func hermetic(t *testing.T) {
	testenv.Hermetic(t)
	for _, v := range []string{"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "ANTHROPIC_PROFILE", "ANTHROPIC_CONFIG_DIR", "CLAUDE_CODE_OAUTH_TOKEN", "AWS_BEARER_TOKEN_BEDROCK", "ANTHROPIC_FEDERATION_RULE_ID"} {
		t.Setenv(v, "")
		_ = os.Unsetenv(v)
	}
	t.Setenv("CREDCHAIN_STORE_BACKEND", "memory")
}

// fromSettings builds the resolver as the README's embedder does.
func fromSettings(t *testing.T) *resolver.Resolver {
	t.Helper()
	ctx := context.Background()
	settings, err := config.Load(config.LoadOptions{Sources: all.Sources()})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := settings.Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return newResolver(t, cfg)
}

func newResolver(t *testing.T, cfg resolver.Config) *resolver.Resolver {
	t.Helper()
	r, err := resolver.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func newClient(t *testing.T, r *resolver.Resolver, extra ...option.RequestOption) anthropic.Client {
	t.Helper()
	opts, err := anthropicsdk.Options(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return anthropic.NewClient(append(opts, extra...)...)
}

func send(t *testing.T, c anthropic.Client) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.Messages.New(ctx, params())
	return err
}

// The first-party cases: which variables the shell holds and which options
// the program adds; exactly the resolved credential must go out.
func TestFirstParty(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		extra  func(url string) []option.RequestOption
		header string // the one credential header expected
		want   string
	}{
		{
			name: "env API key", env: map[string]string{"ANTHROPIC_API_KEY": "sk-ant-env-key-1"},
			header: "X-Api-Key", want: "sk-ant-env-key-1",
		},
		{
			name: "env auth token", env: map[string]string{"ANTHROPIC_AUTH_TOKEN": "gateway-token-1"},
			header: "Authorization", want: "Bearer gateway-token-1",
		},
		{
			// credchain is told to use the API key only; a token left in
			// the shell must not go out next to it.
			name: "stray ANTHROPIC_AUTH_TOKEN", env: map[string]string{"ANTHROPIC_API_KEY": "sk-ant-env-key-2", "ANTHROPIC_AUTH_TOKEN": "stray-token", "CREDCHAIN_CHAIN": "api-key"},
			header: "X-Api-Key", want: "sk-ant-env-key-2",
		},
		{
			// The SDK alone would fail every request on a missing profile.
			name: "stray ANTHROPIC_PROFILE", env: map[string]string{"CLAUDE_CODE_OAUTH_TOKEN": "gateway-token-1", "ANTHROPIC_PROFILE": "no-such-profile"},
			header: "Authorization", want: "Bearer gateway-token-1",
		},
		{
			name: "placeholder API key option", env: map[string]string{"ANTHROPIC_API_KEY": "sk-ant-env-key-3"},
			extra:  func(string) []option.RequestOption { return []option.RequestOption{option.WithAPIKey("placeholder")} },
			header: "X-Api-Key", want: "sk-ant-env-key-3",
		},
		{
			name: "auth token option over a helper-less key", env: map[string]string{"ANTHROPIC_AUTH_TOKEN": "gateway-token-2"},
			extra: func(string) []option.RequestOption {
				return []option.RequestOption{option.WithHeader("X-Api-Key", "stray")}
			},
			header: "Authorization", want: "Bearer gateway-token-2",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hermetic(t)
			s := newStandIn(t)
			s.accept("api-key", "sk-ant-env-key-1", "sk-ant-env-key-2", "sk-ant-env-key-3")
			s.accept("bearer", "gateway-token-1", "gateway-token-2")
			t.Setenv("ANTHROPIC_BASE_URL", s.srv.URL)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var extra []option.RequestOption
			if tc.extra != nil {
				extra = tc.extra(s.srv.URL)
			}
			if err := send(t, newClient(t, fromSettings(t), extra...)); err != nil {
				t.Fatal(err)
			}
			s.checkNoProblems(t)
			h := *s.lastHdr.Load()
			if got := h.Get(tc.header); got != tc.want {
				t.Fatalf("%s = %q, want %q", tc.header, got, tc.want)
			}
		})
	}
}

// helperScript prints sk-helper-key-N on its Nth run and counts its runs in
// a file.
func helperScript(t *testing.T) (command, counter string) {
	dir := t.TempDir()
	counter = filepath.Join(dir, "runs")
	script := filepath.Join(dir, "helper.sh")
	body := "#!/bin/sh\nn=$(( $(cat " + counter + " 2>/dev/null || echo 0) + 1 ))\necho $n > " + counter + "\necho sk-helper-key-$n\n"
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	return script, counter
}

func helperRuns(t *testing.T, counter string) int {
	t.Helper()
	data, err := os.ReadFile(counter)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	_, _ = fmt.Sscan(string(data), &n)
	return n
}

// The API rotates the helper's key under N concurrent requests: every
// request succeeds (a 401 refreshes and retries) and the helper runs
// exactly once per rotation.
func TestHelperRotationConcurrent(t *testing.T) {
	hermetic(t)
	s := newStandIn(t)
	command, counter := helperScript(t)
	r := newResolver(t, resolver.Config{Sources: []resolver.Source{apikey.NewHelper(apikey.HelperOptions{Command: command})}})
	t.Setenv("ANTHROPIC_BASE_URL", s.srv.URL)
	client := newClient(t, r)
	const rotations, concurrent = 3, 100
	for rot := 1; rot <= rotations; rot++ {
		s.accept("api-key", fmt.Sprintf("sk-helper-key-%d", rot+1)) // the API revokes key rot
		var wg sync.WaitGroup
		var failed atomic.Int32
		for range concurrent {
			wg.Go(func() {
				if err := send(t, client); err != nil {
					failed.Add(1)
					t.Log(err)
				}
			})
		}
		wg.Wait()
		if n := failed.Load(); n != 0 {
			t.Fatalf("rotation %d: %d of %d requests failed", rot, n, concurrent)
		}
		if runs := helperRuns(t, counter); runs != rot+1 {
			t.Fatalf("after rotation %d the helper ran %d times, want %d (one per rotation)", rot, runs, rot+1)
		}
	}
	s.checkNoProblems(t)
}

// A CI job hands the token on a file descriptor to a child that embeds
// credchain; the child's SDK request carries it.
func TestFDTokenInChild(t *testing.T) {
	hermetic(t)
	s := newStandIn(t)
	s.accept("bearer", "sk-ant-oat01-fd-token")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if _, err := pw.WriteString("sk-ant-oat01-fd-token\n"); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1", "ANTHROPIC_BASE_URL="+s.srv.URL, "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR=3")
	cmd.ExtraFiles = []*os.File{pr}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	s.checkNoProblems(t)
	if got := (*s.lastHdr.Load()).Get("Authorization"); got != "Bearer sk-ant-oat01-fd-token" {
		t.Fatalf("Authorization = %q", got)
	}
	if strings.Contains(string(out), "fd-token") {
		t.Fatal("the child printed the token")
	}
}

// rotatingAWS is a "bedrock" source handing out key N on its Nth fetch.
type rotatingAWS struct{ calls atomic.Int32 }

func (s *rotatingAWS) Name() string { return credaws.Name }
func (s *rotatingAWS) Fetch(context.Context, *resolver.Credential) (*resolver.Credential, error) {
	n := s.calls.Add(1)
	return &resolver.Credential{Kind: resolver.KindAWS, Expiry: time.Now().Add(time.Hour), AWS: &resolver.AWSKeys{
		AccessKeyID: fmt.Sprintf("ASIAKEY%04d", n), SecretAccessKey: resolver.NewSecret(fmt.Sprintf("aws-secret-%d", n)),
		SessionToken: resolver.NewSecret("session-token"), Region: "us-west-2",
	}}, nil
}

// Bedrock through the SDK's own bedrock package with credchain's
// credentials: SigV4 verified server-side over the body that arrived; a 403
// for revoked keys reaches Invalidate and the next request signs with new
// keys.
func TestBedrockThroughSDKPackage(t *testing.T) {
	hermetic(t)
	s := newStandIn(t)
	s.acceptAWS("ASIAKEY0001", "aws-secret-1", "session-token")
	src := &rotatingAWS{}
	r := newResolver(t, resolver.Config{Sources: []resolver.Source{src}})
	client := newClient(t, r, option.WithBaseURL(s.srv.URL))
	if err := send(t, client); err != nil {
		t.Fatal(err)
	}
	s.checkNoProblems(t)
	s.acceptAWS("ASIAKEY0002", "aws-secret-2", "session-token") // the first keys are revoked
	var apiErr *anthropic.Error
	if err := send(t, client); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden {
		t.Fatalf("with revoked keys: %v, want the 403", err)
	}
	if err := send(t, client); err != nil {
		t.Fatalf("after the 403: %v (fetches %d)", err, src.calls.Load())
	}
	s.checkNoProblems(t)
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
}

// The SDK's bedrock middleware (signing with other keys, GetBody handing
// back one rewound reader) under credchain's own Transport and SigV4
// Signer: the Transport replaces the signature and the body arrives whole.
func TestBedrockMiddlewareUnderCredchainTransport(t *testing.T) {
	hermetic(t)
	s := newStandIn(t)
	s.acceptAWS("ASIAKEY0001", "aws-secret-1", "session-token")
	r := newResolver(t, resolver.Config{
		Sources: []resolver.Source{&rotatingAWS{}},
		Signers: map[resolver.Kind]resolver.Signer{resolver.KindAWS: credaws.NewSigner()},
	})
	decoy := sdkaws.Config{Region: "us-west-2", Credentials: sdkaws.CredentialsProviderFunc(func(context.Context) (sdkaws.Credentials, error) {
		return sdkaws.Credentials{AccessKeyID: "AKIADECOY", SecretAccessKey: "decoy", SessionToken: "decoy-session"}, nil
	})}
	client := anthropic.NewClient(
		option.WithHTTPClient(&http.Client{Transport: r.Transport(nil)}),
		bedrock.WithConfig(decoy),
		option.WithBaseURL(s.srv.URL),
	)
	if err := send(t, client); err != nil {
		t.Fatal(err)
	}
	s.checkNoProblems(t)
	if tok := (*s.lastHdr.Load()).Values("X-Amz-Security-Token"); len(tok) != 1 || tok[0] != "session-token" {
		t.Fatalf("X-Amz-Security-Token = %q, want only credchain's", tok)
	}
}

// rotatingGoogle is a "vertex" source handing out token N on its Nth
// fetch, for a project and region.
type rotatingGoogle struct{ calls atomic.Int32 }

func (s *rotatingGoogle) Name() string { return "vertex" }
func (s *rotatingGoogle) Fetch(context.Context, *resolver.Credential) (*resolver.Credential, error) {
	n := s.calls.Add(1)
	return &resolver.Credential{Kind: resolver.KindGoogle, Token: resolver.NewSecret(fmt.Sprintf("ya29.token-%d", n)), Expiry: time.Now().Add(time.Hour),
		Meta: map[string]string{"region": "us-east5", "project": "my-project"}}, nil
}

// Vertex through the SDK's vertex package: the resolver's token goes out
// as the only credential, and a 401 reaches Invalidate.
func TestVertexThroughSDKPackage(t *testing.T) {
	hermetic(t)
	s := newStandIn(t)
	s.accept("bearer", "ya29.token-1")
	src := &rotatingGoogle{}
	r := newResolver(t, resolver.Config{Sources: []resolver.Source{src}})
	client := newClient(t, r, option.WithBaseURL(s.srv.URL))
	if err := send(t, client); err != nil {
		t.Fatal(err)
	}
	s.accept("bearer", "ya29.token-2")
	if err := send(t, client); err == nil {
		t.Fatal("a revoked token was accepted")
	}
	if err := send(t, client); err != nil {
		t.Fatalf("after the 401: %v", err)
	}
	s.checkNoProblems(t)
	if m := vertexPath.FindStringSubmatch(*s.lastPath.Load()); m == nil || m[1] != "my-project" || m[2] != "us-east5" {
		t.Fatalf("path %q, want the source's project and region", *s.lastPath.Load())
	}
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
}

// Nothing configured fails in Options, before any request.
func TestNothingConfiguredFailsBeforeTheFirstRequest(t *testing.T) {
	hermetic(t)
	r := newResolver(t, resolver.Config{Sources: []resolver.Source{
		apikey.NewEnv("auth-token", "ANTHROPIC_AUTH_TOKEN", resolver.KindBearer, os.Getenv),
		apikey.NewEnv("api-key", "ANTHROPIC_API_KEY", resolver.KindAPIKey, os.Getenv),
	}})
	_, err := anthropicsdk.Options(context.Background(), r)
	if !errors.Is(err, resolver.ErrNoSource) || !strings.Contains(err.Error(), "ANTHROPIC_API_KEY") {
		t.Fatalf("Options = %v, want ErrNoSource listing the sources", err)
	}
}

// An error retrying cannot fix is returned by the first attempt: the SDK
// does not retry it.
func TestPermanentErrorsAreNotRetried(t *testing.T) {
	hermetic(t)
	s := newStandIn(t)
	t.Setenv("ANTHROPIC_API_KEY", "sk-ant-env-key-1")
	t.Setenv("ANTHROPIC_BASE_URL", s.srv.URL)
	r := fromSettings(t)
	var attempts atomic.Int32
	client := newClient(t, r, option.WithMiddleware(func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		attempts.Add(1)
		return next(req)
	}))
	_ = r.Close()
	err := send(t, client)
	if !errors.Is(err, resolver.ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
	if n := attempts.Load(); n != 1 {
		t.Fatalf("%d attempts, want 1 (not retried)", n)
	}
	if n := s.requests.Load(); n != 0 {
		t.Fatalf("%d requests reached the API", n)
	}
}

// bedrockKey is the "bedrock" source when AWS_BEARER_TOKEN_BEDROCK is set:
// a Bedrock API key sent as a bearer token.
type bedrockKey struct{}

func (bedrockKey) Name() string { return credaws.Name }
func (bedrockKey) Fetch(context.Context, *resolver.Credential) (*resolver.Credential, error) {
	return &resolver.Credential{Kind: resolver.KindBearer, Token: resolver.NewSecret("bedrock-api-key-1"), Meta: map[string]string{"region": "eu-west-1"}}, nil
}

// A Bedrock API key goes through the SDK's bedrock package as its bearer
// token (the request is rewritten for Bedrock, not sent to /v1/messages).
func TestBedrockAPIKey(t *testing.T) {
	hermetic(t)
	s := newStandIn(t)
	s.accept("bearer", "bedrock-api-key-1")
	client := newClient(t, newResolver(t, resolver.Config{Sources: []resolver.Source{bedrockKey{}}}), option.WithBaseURL(s.srv.URL))
	if err := send(t, client); err != nil {
		t.Fatal(err)
	}
	s.checkNoProblems(t)
	if p := *s.lastPath.Load(); !bedrockPath.MatchString(p) {
		t.Fatalf("path %q, want Bedrock's", p)
	}
}

// skipped is a cloud source whose CLAUDE_CODE_SKIP_*_AUTH is set.
type skipped struct{ name string }

func (s skipped) Name() string { return s.name }
func (skipped) Fetch(context.Context, *resolver.Credential) (*resolver.Credential, error) {
	return &resolver.Credential{Kind: resolver.KindNone}, nil
}

// A cloud source that sends nothing cannot go through the SDK's cloud
// packages: Options says so instead of building a client that fails.
func TestSkippedCloudAuthIsUnsupported(t *testing.T) {
	hermetic(t)
	for _, name := range []string{"bedrock", "vertex"} {
		r := newResolver(t, resolver.Config{Sources: []resolver.Source{skipped{name}}})
		if _, err := anthropicsdk.Options(context.Background(), r); !errors.Is(err, anthropicsdk.ErrUnsupported) {
			t.Fatalf("%s: Options = %v, want ErrUnsupported", name, err)
		}
	}
}
