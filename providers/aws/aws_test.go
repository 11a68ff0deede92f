//go:build integration

package aws_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/providers/aws"
	"github.com/credchain/credchain/resolver"
)

// One moto server is shared by the package's tests (it takes ~7 s to
// start). It verifies every signature and IAM policy after the four set-up
// calls of itest.Moto.SetupIAM.
type motoOnce struct {
	once sync.Once
	m    *itest.Moto
	id   itest.MotoIdentity
	err  error
}

var verifyingMoto motoOnce

// stopAtExit holds the Close of every shared server started lazily.
var stopAtExit []func()

func TestMain(m *testing.M) {
	code := m.Run()
	if verifyingMoto.m != nil {
		verifyingMoto.m.Close()
	}
	for _, stop := range stopAtExit {
		stop()
	}
	os.Exit(code)
}

func (mo *motoOnce) get(t *testing.T, noAuth int) (*itest.Moto, itest.MotoIdentity) {
	t.Helper()
	mo.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		mo.m, mo.err = itest.StartMoto(ctx, noAuth)
		if mo.err == nil {
			mo.id, mo.err = mo.m.SetupIAM(ctx)
		}
	})
	if mo.err != nil {
		t.Fatalf("moto: %v", mo.err)
	}
	return mo.m, mo.id
}

// verifying returns the signature-verifying moto and alice's identity.
func verifying(t *testing.T) (*itest.Moto, itest.MotoIdentity) {
	return verifyingMoto.get(t, 4)
}

// env is hermeticAWS with STS on moto (on a dead loopback port when m is
// nil).
func env(t *testing.T, m *itest.Moto) string {
	t.Helper()
	if m == nil {
		return hermeticAWS(t, "")
	}
	return hermeticAWS(t, m.URL)
}

// TestChainAgainstMoto runs the SDK's own chain against moto verifying
// signatures: the identity STS reports proves which credentials were used.
func TestChainAgainstMoto(t *testing.T) {
	m, id := verifying(t)
	for _, tc := range []struct {
		name       string
		setup      func(t *testing.T, home string) aws.Options
		wantARN    string
		wantExpiry time.Duration // 0: does not expire
		persistent bool
	}{
		{
			name: "static keys from the environment",
			setup: func(t *testing.T, home string) aws.Options {
				t.Setenv("AWS_ACCESS_KEY_ID", id.AccessKeyID)
				t.Setenv("AWS_SECRET_ACCESS_KEY", id.SecretAccessKey)
				t.Setenv("AWS_REGION", "us-east-1")
				return aws.Options{}
			},
			wantARN: id.UserARN,
		},
		{
			name: "profile with role_arn assumed through STS",
			setup: func(t *testing.T, home string) aws.Options {
				writeFile(t, filepath.Join(home, "credentials"), fmt.Sprintf("[alice]\naws_access_key_id = %s\naws_secret_access_key = %s\n", id.AccessKeyID, id.SecretAccessKey))
				writeFile(t, filepath.Join(home, "config"), fmt.Sprintf("[profile br]\nrole_arn = %s\nsource_profile = alice\nrole_session_name = resolver-test\nduration_seconds = 900\nregion = eu-west-1\n", id.RoleARN))
				t.Setenv("AWS_PROFILE", "br")
				return aws.Options{}
			},
			wantARN:    "arn:aws:sts::" + itest.MotoAccount + ":assumed-role/bedrock-role/resolver-test",
			wantExpiry: 15 * time.Minute,
			persistent: true,
		},
		{
			name: "aws.role_arn on top of static keys",
			setup: func(t *testing.T, home string) aws.Options {
				t.Setenv("AWS_ACCESS_KEY_ID", id.AccessKeyID)
				t.Setenv("AWS_SECRET_ACCESS_KEY", id.SecretAccessKey)
				return aws.Options{Region: "us-west-2", RoleARN: id.RoleARN}
			},
			wantARN: "arn:aws:sts::" + itest.MotoAccount + ":assumed-role/bedrock-role/credchain",
			// stscreds asks for 15 minutes unless told otherwise.
			wantExpiry: 15 * time.Minute,
			persistent: true,
		},
		{
			name: "credential_process in a profile",
			setup: func(t *testing.T, home string) aws.Options {
				script := filepath.Join(home, "process.sh")
				exp := time.Now().Add(20 * time.Minute).UTC().Format(time.RFC3339)
				writeFile(t, script, fmt.Sprintf("#!/bin/sh\necho run >> %q\nprintf '{\"Version\":1,\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\",\"Expiration\":\"%s\"}'\n",
					filepath.Join(home, "process.runs"), id.AccessKeyID, id.SecretAccessKey, exp))
				writeFile(t, filepath.Join(home, "config"), fmt.Sprintf("[profile proc]\ncredential_process = %s\nregion = us-east-1\n", script))
				return aws.Options{Profile: "proc"}
			},
			wantARN:    id.UserARN,
			wantExpiry: 20 * time.Minute,
			persistent: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := env(t, m)
			opts := tc.setup(t, home)
			src := aws.New(options(opts))
			if err := src.Probe(); err != nil {
				t.Fatal(err)
			}
			if got := src.Persistent(); got != tc.persistent {
				t.Errorf("Persistent() = %v, want %v", got, tc.persistent)
			}
			cred, err := src.Fetch(context.Background(), nil)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if cred.Kind != resolver.KindAWS || cred.AWS == nil || cred.AWS.AccessKeyID == "" || cred.AWS.SecretAccessKey.IsZero() {
				t.Fatalf("Fetch = %v, want AWS keys", cred)
			}
			if cred.Meta["arn"] != tc.wantARN || cred.Meta["account"] != itest.MotoAccount {
				t.Errorf("identity = %q in %q, want %q (GetCallerIdentity runs on first obtain)", cred.Meta["arn"], cred.Meta["account"], tc.wantARN)
			}
			if cred.AWS.Region == "" || cred.AWS.Region != cred.Meta["region"] {
				t.Errorf("region = %q, meta %q", cred.AWS.Region, cred.Meta["region"])
			}
			if tc.wantExpiry == 0 {
				if !cred.Expiry.IsZero() || cred.RefreshAt.IsZero() {
					t.Errorf("expiry %v refreshAt %v: long-term keys do not expire and are re-read hourly", cred.Expiry, cred.RefreshAt)
				}
			} else {
				if d := time.Until(cred.Expiry); d > tc.wantExpiry || d < tc.wantExpiry-time.Minute {
					t.Errorf("expires in %v, want about %v (the SDK's expiry, not hidden by a cache)", d, tc.wantExpiry)
				}
				if cred.AWS.SessionToken.IsZero() && !strings.Contains(tc.name, "credential_process") {
					t.Errorf("temporary credentials without a session token")
				}
			}
			if strings.Contains(cred.String(), id.SecretAccessKey) || strings.Contains(fmt.Sprintf("%v %+v %#v", cred, cred, cred), cred.AWS.SecretAccessKey.Reveal()) {
				t.Errorf("a printed credential reveals the secret")
			}
		})
	}
}

// TestNoCacheUnderOurs: every Fetch asks the SDK's provider again (the
// scheduler is the one cache), so credential_process runs once per Fetch
// even though the SDK would have cached its answer until Expiration.
func TestNoCacheUnderOurs(t *testing.T) {
	m, id := verifying(t)
	home := env(t, m)
	script := filepath.Join(home, "process.sh")
	count := filepath.Join(home, "process.runs")
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	writeFile(t, script, fmt.Sprintf("#!/bin/sh\necho run >> %q\nprintf '{\"Version\":1,\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\",\"Expiration\":\"%s\"}'\n", count, id.AccessKeyID, id.SecretAccessKey, exp))
	writeFile(t, filepath.Join(home, "config"), fmt.Sprintf("[profile proc]\ncredential_process = %s\nregion = us-east-1\n", script))
	src := aws.New(options(aws.Options{Profile: "proc"}))
	first, err := src.Fetch(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Fetch(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	if n := testenv.CountLines(t, count); n != 2 {
		t.Fatalf("credential_process ran %d times for 2 fetches, want 2", n)
	}
}

func TestRegionMissing(t *testing.T) {
	m, id := verifying(t)
	home := env(t, m)
	t.Setenv("AWS_ACCESS_KEY_ID", id.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", id.SecretAccessKey)
	count := filepath.Join(home, "refresh.runs")
	_, err := aws.New(options(aws.Options{AuthRefresh: "echo run >> " + count})).Fetch(context.Background(), nil)
	if !errors.Is(err, aws.ErrNoRegion) || !strings.Contains(err.Error(), "aws.region") || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Fatalf("Fetch without a region = %v, want an error naming aws.region and AWS_REGION", err)
	}
	if n := testenv.CountLines(t, count); n != 0 {
		t.Errorf("awsAuthRefresh ran %d times for a missing region, which no login fixes", n)
	}
}

func TestUnknownProfile(t *testing.T) {
	m, _ := verifying(t)
	env(t, m)
	_, err := aws.New(options(aws.Options{Profile: "nope", Region: "us-east-1"})).Fetch(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "aws.profile") || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("Fetch with an unknown profile = %v, want an error naming aws.profile and the profile", err)
	}
}

// invoke sends a Bedrock InvokeModel request through the resolver's
// Transport to moto, which verifies the signature. The model id has no ':'
// because moto builds its canonical request from the decoded path and so
// refuses correct signatures on paths with reserved characters (a moto
// limitation: real Bedrock ids end in "-v1:0").
func invoke(t *testing.T, rt http.RoundTripper, base string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/model/anthropic.claude-3-haiku-20240307-v1/invoke", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		t.Fatalf("InvokeModel: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func newResolver(t *testing.T, cfg resolver.Config) *resolver.Resolver {
	t.Helper()
	if cfg.Signers == nil {
		cfg.Signers = map[resolver.Kind]resolver.Signer{resolver.KindAWS: aws.NewSigner()}
	}
	return testenv.NewResolver(t, cfg)
}

func TestSignatureVerifiedByMoto(t *testing.T) {
	m, id := verifying(t)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) aws.Options
		body  func() io.Reader
	}{
		{"static keys, replayable body", func(t *testing.T) aws.Options {
			t.Setenv("AWS_ACCESS_KEY_ID", id.AccessKeyID)
			t.Setenv("AWS_SECRET_ACCESS_KEY", id.SecretAccessKey)
			return aws.Options{Region: "us-east-1"}
		}, func() io.Reader { return strings.NewReader(modelBody) }},
		{"assumed role with session token, streamed body", func(t *testing.T) aws.Options {
			t.Setenv("AWS_ACCESS_KEY_ID", id.AccessKeyID)
			t.Setenv("AWS_SECRET_ACCESS_KEY", id.SecretAccessKey)
			return aws.Options{Region: "us-east-1", RoleARN: id.RoleARN}
		}, func() io.Reader { return io.MultiReader(strings.NewReader(modelBody)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env(t, m)
			src := aws.New(options(tc.setup(t)))
			r := newResolver(t, resolver.Config{Sources: []resolver.Source{src}, Store: cache.NewMemory()})
			code, body := invoke(t, r.Transport(testenv.LoopbackHTTPClient().Transport), m.URL, tc.body())
			if code != http.StatusOK {
				t.Fatalf("moto answered %d %s, want 200 for a correctly signed request", code, body)
			}
		})
	}
}

func TestBadSignatureRefused(t *testing.T) {
	m, id := verifying(t)
	env(t, m)
	cred := &resolver.Credential{Kind: resolver.KindAWS, Source: aws.Name, AWS: &resolver.AWSKeys{
		AccessKeyID: id.AccessKeyID, SecretAccessKey: resolver.NewSecret("not-" + id.SecretAccessKey), Region: "us-east-1",
	}}
	req, _ := http.NewRequest(http.MethodPost, m.URL+"/model/anthropic.claude-3-haiku-20240307-v1/invoke", strings.NewReader(modelBody))
	req.Header.Set("Content-Type", "application/json")
	if err := aws.NewSigner().Sign(context.Background(), req, cred); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(req.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential="+id.AccessKeyID+"/") ||
		!strings.Contains(req.Header.Get("Authorization"), "/us-east-1/bedrock/aws4_request") {
		t.Fatalf("Authorization = %q, want SigV4 for bedrock in us-east-1", req.Header.Get("Authorization"))
	}
	resp, err := testenv.LoopbackHTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || !bytes.Contains(b, []byte("SignatureDoesNotMatch")) {
		t.Fatalf("moto answered %d %s to a wrong signature, want 403 SignatureDoesNotMatch", resp.StatusCode, b)
	}
}

// TestProactiveRefresh: assumed-role credentials flow through the
// resolver's scheduler, which refreshes them (a new AssumeRole) the refresh
// window before they expire, and stores them for other processes.
func TestProactiveRefresh(t *testing.T) {
	m, id := verifying(t)
	env(t, m)
	t.Setenv("AWS_ACCESS_KEY_ID", id.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", id.SecretAccessKey)
	clock := testenv.NewFakeClock(time.Now())
	events := testenv.NewEvents()
	store := cache.NewMemory()
	src := aws.New(options(aws.Options{Region: "us-east-1", RoleARN: id.RoleARN, Now: clock.Now}))
	r := newResolver(t, resolver.Config{
		Sources: []resolver.Source{src}, Store: store, Clock: clock,
		OnEvent: events.Add,
	})
	first, err := r.Resolve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	events.Wait(t, resolver.EventRefreshed)
	if first.Expiry.IsZero() {
		t.Fatal("assumed-role credentials without an expiry")
	}
	// Just before the window nothing happens; entering it refreshes.
	clock.Advance(time.Until(first.Expiry) - resolver.DefaultRefreshWindow - time.Minute)
	if again, _ := r.Resolve(context.Background()); again != first {
		t.Fatal("credentials changed before the refresh window")
	}
	clock.Advance(2 * time.Minute)
	ev := events.Wait(t, resolver.EventRefreshed)
	second, err := r.Resolve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if second.SameSecret(first) || !ev.Expiry.Equal(second.Expiry) || second.Meta["arn"] != first.Meta["arn"] || first.Meta["arn"] == "" {
		t.Fatalf("after the refresh window: %v, want new assumed-role keys (first %v)", second, first)
	}
	data, err := store.Get(context.Background(), resolver.StoreKey(src))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := resolver.DecodeRecord(data)
	if err != nil || !stored.SameSecret(second) {
		t.Fatalf("stored %v (%v), want the refreshed credentials for other processes", stored, err)
	}
	code, body := invoke(t, r.Transport(testenv.LoopbackHTTPClient().Transport), m.URL, strings.NewReader(modelBody))
	if code != http.StatusOK {
		t.Fatalf("refreshed credentials: moto answered %d %s", code, body)
	}
}
