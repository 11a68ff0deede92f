//go:build integration

package aws_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/providers/aws"
	"github.com/credchain/credchain/resolver"
)

// refreshScript returns an auth-refresh command that counts its runs in
// count, says something, and (when fixed is not empty) writes that content
// as the shared credentials file, as `aws sso login` renews ~/.aws.
func refreshScript(t *testing.T, home, count, fixed string) string {
	t.Helper()
	script := filepath.Join(home, "refresh.sh")
	body := fmt.Sprintf("#!/bin/sh\necho run >> %q\necho 'Successfully logged into Start URL'\n", count)
	if fixed != "" {
		src := filepath.Join(home, "fixed-credentials")
		writeFile(t, src, fixed)
		body += fmt.Sprintf("cp %q %q\n", src, filepath.Join(home, "credentials"))
	} else {
		body += "echo 'the SSO session could not be renewed' >&2\n"
	}
	writeFile(t, script, body)
	return script
}

func credentialsFile(id itest.MotoIdentity) string {
	return fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", id.AccessKeyID, id.SecretAccessKey)
}

// TestAuthRefresh: awsAuthRefresh runs exactly when STS GetCallerIdentity
// refuses the credentials, its output is shown, and after it the SDK's
// configuration is loaded again.
func TestAuthRefresh(t *testing.T) {
	m, alice := verifying(t)
	broken := itest.MotoIdentity{AccessKeyID: alice.AccessKeyID, SecretAccessKey: "wrong-" + alice.SecretAccessKey}

	t.Run("valid credentials: never run", func(t *testing.T) {
		home := env(t, m)
		writeFile(t, filepath.Join(home, "credentials"), credentialsFile(alice))
		count := filepath.Join(home, "refresh.runs")
		src := aws.New(options(aws.Options{Region: "us-east-1", AuthRefresh: refreshScript(t, home, count, "")}))
		cred, err := src.Fetch(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.Fetch(context.Background(), cred); err != nil {
			t.Fatal(err)
		}
		if n := testenv.CountLines(t, count); n != 0 {
			t.Fatalf("awsAuthRefresh ran %d times although STS accepted the credentials", n)
		}
	})

	t.Run("refused on first obtain: run once, output shown, new files read", func(t *testing.T) {
		home := env(t, m)
		writeFile(t, filepath.Join(home, "credentials"), credentialsFile(broken))
		count := filepath.Join(home, "refresh.runs")
		var shown bytes.Buffer
		src := aws.New(options(aws.Options{Region: "us-east-1", AuthRefresh: refreshScript(t, home, count, credentialsFile(alice)), Output: &shown}))
		cred, err := src.Fetch(context.Background(), nil)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if cred.Meta["arn"] != alice.UserARN || cred.AWS.SecretAccessKey.Reveal() != alice.SecretAccessKey || testenv.CountLines(t, count) != 1 {
			t.Fatalf("Fetch = %v (arn %q) after %d runs, want alice's keys after one run", cred, cred.Meta["arn"], testenv.CountLines(t, count))
		}
		if !strings.Contains(shown.String(), "Successfully logged into Start URL") {
			t.Errorf("output not shown: %q", shown.String())
		}
	})

	t.Run("scheduled refresh does not check; the refused credential does", func(t *testing.T) {
		home := env(t, m)
		writeFile(t, filepath.Join(home, "credentials"), credentialsFile(broken))
		count := filepath.Join(home, "refresh.runs")
		src := aws.New(options(aws.Options{Region: "us-east-1", AuthRefresh: refreshScript(t, home, count, credentialsFile(alice))}))
		older := &resolver.Credential{Kind: resolver.KindAWS, Source: aws.Name, AWS: &resolver.AWSKeys{AccessKeyID: "ASIAOLDER", SecretAccessKey: resolver.NewSecret("older")}}
		cred, err := src.Fetch(context.Background(), older)
		if err != nil || testenv.CountLines(t, count) != 0 {
			t.Fatalf("Fetch(prev=older) = %v, %v after %d runs; want the chain's keys unchecked", cred, err, testenv.CountLines(t, count))
		}
		// The resolver hands back the credential the API refused.
		fixed, err := src.Fetch(context.Background(), cred)
		if err != nil || testenv.CountLines(t, count) != 1 || fixed.Meta["arn"] != alice.UserARN {
			t.Fatalf("Fetch(prev=refused) = %v, %v after %d runs; want a check, one run, and alice", fixed, err, testenv.CountLines(t, count))
		}
	})

	t.Run("still refused: output in the error, cool-down respected", func(t *testing.T) {
		home := env(t, m)
		writeFile(t, filepath.Join(home, "credentials"), credentialsFile(broken))
		count := filepath.Join(home, "refresh.runs")
		src := aws.New(options(aws.Options{Region: "us-east-1", AuthRefresh: refreshScript(t, home, count, "")}))
		_, err := src.Fetch(context.Background(), nil)
		if !errors.Is(err, aws.ErrInvalidCredentials) || !strings.Contains(err.Error(), "awsAuthRefresh") || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
			t.Fatalf("Fetch = %v, want ErrInvalidCredentials naming awsAuthRefresh and STS's answer", err)
		}
		_, err = src.Fetch(context.Background(), nil)
		if err == nil || testenv.CountLines(t, count) != 1 || !strings.Contains(err.Error(), "not run again yet") {
			t.Fatalf("second Fetch = %v after %d runs, want no second run within the cool-down", err, testenv.CountLines(t, count))
		}
	})

	t.Run("no command configured: a clear error", func(t *testing.T) {
		home := env(t, m)
		writeFile(t, filepath.Join(home, "credentials"), credentialsFile(broken))
		_, err := aws.New(options(aws.Options{Region: "us-east-1"})).Fetch(context.Background(), nil)
		if !errors.Is(err, aws.ErrInvalidCredentials) || !strings.Contains(err.Error(), "set aws.auth_refresh") || strings.Contains(err.Error(), alice.SecretAccessKey) {
			t.Fatalf("Fetch = %v, want ErrInvalidCredentials suggesting aws.auth_refresh", err)
		}
	})

	t.Run("a hanging command is stopped at the timeout", func(t *testing.T) {
		home := env(t, m)
		writeFile(t, filepath.Join(home, "credentials"), credentialsFile(broken))
		pidFile := filepath.Join(t.TempDir(), "pid")
		src := aws.New(options(aws.Options{Region: "us-east-1", AuthRefresh: testenv.HangingCommand(pidFile), CommandTimeout: 300 * time.Millisecond}))
		_, err := src.Fetch(context.Background(), nil)
		if err == nil || !strings.Contains(err.Error(), "aws.auth_refresh") || !strings.Contains(err.Error(), "did not finish within 300ms") {
			t.Fatalf("Fetch = %v, want a timeout naming aws.auth_refresh", err)
		}
		testenv.WaitProcessesGone(t, []int{testenv.ReadPID(t, pidFile)}, 10*time.Second) // it would sleep 10 minutes
	})
}

// TestRevokedKeyRecovered: end to end through resolver.Transport. The key
// in use is revoked; Bedrock (moto) refuses the request; the resolver hands
// the refused credential back; GetCallerIdentity fails; awsAuthRefresh
// writes new keys; the request is retried once and succeeds.
func TestRevokedKeyRecovered(t *testing.T) {
	m, alice := verifying(t)
	home := env(t, m)
	ctx := context.Background()
	// moto outlives one run of the test (go test -count=N): a new name each time.
	bobName := fmt.Sprintf("bob-%d", time.Now().UnixNano())
	bob, err := m.NewUser(ctx, alice, bobName)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(home, "credentials"), credentialsFile(bob))
	count := filepath.Join(home, "refresh.runs")
	src := aws.New(options(aws.Options{Region: "us-east-1", AuthRefresh: refreshScript(t, home, count, credentialsFile(alice))}))
	r := newResolver(t, resolver.Config{Sources: []resolver.Source{src}, Store: cache.NewMemory()})
	first, err := r.Resolve(ctx)
	if err != nil || first.Meta["arn"] != bob.UserARN {
		t.Fatalf("Resolve = %v, %v; want bob", first, err)
	}
	if err := m.DeleteAccessKey(ctx, alice, bobName, bob.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	code, body := invoke(t, r.Transport(testenv.LoopbackHTTPClient().Transport), m.URL, strings.NewReader(modelBody))
	if code != http.StatusOK || testenv.CountLines(t, count) != 1 {
		t.Fatalf("InvokeModel = %d %s after %d refresh runs, want 200 after exactly one", code, body, testenv.CountLines(t, count))
	}
	now, err := r.Resolve(ctx)
	if err != nil || now.Meta["arn"] != alice.UserARN {
		t.Fatalf("Resolve after recovery = %v, %v; want alice", now, err)
	}
}

// TestAuthRefreshWhenTheChainFails: when the SDK cannot produce credentials
// at all (an SSO session or credential_process that needs a login),
// awsAuthRefresh runs once and the chain is asked again.
func TestAuthRefreshWhenTheChainFails(t *testing.T) {
	m, alice := verifying(t)
	home := env(t, m)
	marker := filepath.Join(home, "logged-in")
	process := filepath.Join(home, "process.sh")
	writeFile(t, process, fmt.Sprintf("#!/bin/sh\n[ -e %q ] || { echo 'session expired' >&2; exit 1; }\nprintf '{\"Version\":1,\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\"}'\n",
		marker, alice.AccessKeyID, alice.SecretAccessKey))
	writeFile(t, filepath.Join(home, "config"), fmt.Sprintf("[profile sso-like]\ncredential_process = %s\nregion = us-east-1\n", process))
	count := filepath.Join(home, "refresh.runs")
	login := fmt.Sprintf("echo run >> %q; touch %q", count, marker)
	src := aws.New(options(aws.Options{Profile: "sso-like", AuthRefresh: login}))
	cred, err := src.Fetch(context.Background(), nil)
	if err != nil || cred.Meta["arn"] != alice.UserARN || testenv.CountLines(t, count) != 1 {
		t.Fatalf("Fetch = %v, %v after %d runs; want alice after one awsAuthRefresh run", cred, err, testenv.CountLines(t, count))
	}
}

// TestSharedStoreReuse: a second process (another resolver on the same
// store) adopts the stored temporary credentials instead of running the
// chain again.
func TestSharedStoreReuse(t *testing.T) {
	m, alice := verifying(t)
	home := env(t, m)
	process := filepath.Join(home, "process.sh")
	count := filepath.Join(home, "process.runs")
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	writeFile(t, process, fmt.Sprintf("#!/bin/sh\necho run >> %q\nprintf '{\"Version\":1,\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\",\"Expiration\":\"%s\"}'\n", count, alice.AccessKeyID, alice.SecretAccessKey, exp))
	writeFile(t, filepath.Join(home, "config"), fmt.Sprintf("[profile proc]\ncredential_process = %s\nregion = us-east-1\n", process))
	store := cache.NewMemory()
	ctx := context.Background()
	var got []*resolver.Credential
	for range 2 {
		r := newResolver(t, resolver.Config{Sources: []resolver.Source{aws.New(options(aws.Options{Profile: "proc"}))}, Store: store})
		cred, err := r.Resolve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, cred)
	}
	if !got[1].SameSecret(got[0]) || testenv.CountLines(t, count) != 1 {
		t.Fatalf("second process got %v after %d credential_process runs; want the stored credentials and one run", got[1], testenv.CountLines(t, count))
	}
}
