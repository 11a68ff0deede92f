package aws_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/providers/aws"
	"github.com/credchain/credchain/resolver"
)

// These tests drive the SDK chain against a loopback stand-in for STS
// (GetCallerIdentity and AssumeRole), so they need no moto.

const (
	fakeAccount = "123456789012"
	fakeUserARN = "arn:aws:iam::123456789012:user/checked"
	roleKeyID   = "ASIAASSUMEDROLE00001"
)

// stsCall is one request the STS stand-in answered: its Action, the access
// key that signed it and its form.
type stsCall struct {
	action, keyID string
	form          url.Values
}

type fakeSTS struct {
	*httptest.Server
	mu    sync.Mutex
	calls []stsCall
}

// newFakeSTS starts an STS stand-in on 127.0.0.1 and points
// AWS_ENDPOINT_URL_STS at it (through hermeticAWS). It returns HOME too.
func newFakeSTS(t *testing.T) (*fakeSTS, string) {
	t.Helper()
	f := &fakeSTS{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		keyID := ""
		if _, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
			keyID, _, _ = strings.Cut(cred, "/")
		}
		f.mu.Lock()
		f.calls = append(f.calls, stsCall{action: form.Get("Action"), keyID: keyID, form: form})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		switch form.Get("Action") {
		case "GetCallerIdentity":
			fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>%s</Arn><UserId>AIDACHECKED</UserId><Account>%s</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`, fakeUserARN, fakeAccount)
		case "AssumeRole":
			fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>assumed-secret</SecretAccessKey><SessionToken>assumed-token</SessionToken><Expiration>%s</Expiration></Credentials><AssumedRoleUser><Arn>%s/%s</Arn><AssumedRoleId>AROA:%s</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></AssumeRoleResponse>`,
				roleKeyID, time.Now().Add(time.Hour).UTC().Format(time.RFC3339), form.Get("RoleArn"), form.Get("RoleSessionName"), form.Get("RoleSessionName"))
		default:
			http.Error(w, "unexpected action", http.StatusBadRequest)
		}
	}))
	t.Cleanup(f.Close)
	home := hermeticAWS(t, f.URL)
	return f, home
}

func (f *fakeSTS) all() []stsCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]stsCall(nil), f.calls...)
}

// TestChainProfile: aws.profile chooses the shared-credentials profile the
// SDK reads (not AWS_PROFILE, not "default"), and the credential's Meta
// names the profile and the SDK provider that produced the keys; with no
// profile configured Meta has no profile entry at all.
func TestChainProfile(t *testing.T) {
	for _, tc := range []struct {
		name        string
		opts        aws.Options
		envProfile  string
		wantKey     string
		wantProfile string // "" means no "profile" in Meta
	}{
		{name: "aws.profile", opts: aws.Options{Profile: "work"}, wantKey: "AKIAWORKPROFILE00001", wantProfile: "work"},
		{name: "aws.profile wins over AWS_PROFILE", opts: aws.Options{Profile: "work"}, envProfile: "other", wantKey: "AKIAWORKPROFILE00001", wantProfile: "work"},
		{name: "AWS_PROFILE", envProfile: "other", wantKey: "AKIAOTHERPROFILE0001", wantProfile: "other"},
		{name: "nothing configured: default", wantKey: "AKIADEFAULTPROFILE01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sts, home := newFakeSTS(t)
			writeFile(t, filepath.Join(home, "credentials"), "[default]\naws_access_key_id = AKIADEFAULTPROFILE01\naws_secret_access_key = default-secret\n"+
				"[work]\naws_access_key_id = AKIAWORKPROFILE00001\naws_secret_access_key = work-secret\n"+
				"[other]\naws_access_key_id = AKIAOTHERPROFILE0001\naws_secret_access_key = other-secret\n")
			t.Setenv("AWS_PROFILE", tc.envProfile)
			opts := tc.opts
			opts.Region = "us-east-1"
			cred, err := aws.New(options(opts)).Fetch(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if cred.AWS.AccessKeyID != tc.wantKey {
				t.Errorf("AccessKeyID = %s, want %s (the profile's keys)", cred.AWS.AccessKeyID, tc.wantKey)
			}
			if p, ok := cred.Meta["profile"]; p != tc.wantProfile || ok != (tc.wantProfile != "") {
				t.Errorf("Meta[profile] = %q (present %v), want %q", p, ok, tc.wantProfile)
			}
			if !strings.HasPrefix(cred.Meta["provider"], "SharedConfigCredentials") {
				t.Errorf("Meta[provider] = %q, want the SDK's shared-credentials provider", cred.Meta["provider"])
			}
			// The first fetch is checked with STS, with the profile's key.
			calls := sts.all()
			if len(calls) != 1 || calls[0].action != "GetCallerIdentity" || calls[0].keyID != tc.wantKey {
				t.Errorf("STS calls %+v, want one GetCallerIdentity signed by %s", calls, tc.wantKey)
			}
			if cred.Meta["account"] != fakeAccount || cred.Meta["arn"] != fakeUserARN {
				t.Errorf("Meta = %v, want the identity STS reported", cred.Meta)
			}
		})
	}
}

// TestChainConfigErrorNamesTheProfile: when the SDK cannot load the
// configuration the error names the profile it was loading ("default" when
// none is configured).
func TestChainConfigErrorNamesTheProfile(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts aws.Options
		env  map[string]string
		want string
	}{
		{name: "aws.profile that does not exist", opts: aws.Options{Profile: "nosuch"}, want: `profile "nosuch"`},
		{name: "AWS_PROFILE that does not exist", env: map[string]string{"AWS_PROFILE": "gone"}, want: `profile "gone"`},
		// A malformed SDK variable fails the load with no profile set.
		{name: "no profile", env: map[string]string{"AWS_MAX_ATTEMPTS": "many"}, want: `profile "default"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hermeticAWS(t, "")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			opts := tc.opts
			opts.Region = "us-east-1"
			_, err := aws.New(options(opts)).Fetch(context.Background(), nil)
			if err == nil || !strings.Contains(err.Error(), "loading the AWS configuration") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Fetch = %v, want a configuration error naming %s", err, tc.want)
			}
		})
	}
}

// TestChainRoleSessionName: aws.role_arn is assumed through STS with the
// chain's keys, under the session name "credchain" unless
// role_session_name says otherwise; the credential is the role's.
func TestChainRoleSessionName(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/Bedrock"
	for _, tc := range []struct {
		session, want string
	}{
		{"", "credchain"},
		{"nightly-job", "nightly-job"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			sts, _ := newFakeSTS(t)
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIABASEKEYFORROLE01")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "base-secret")
			cred, err := aws.New(options(aws.Options{Region: "us-east-1", RoleARN: role, RoleSessionName: tc.session})).Fetch(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if cred.AWS.AccessKeyID != roleKeyID || cred.Meta["provider"] != "AssumeRoleProvider" {
				t.Errorf("Fetch = %v (Meta %v), want the assumed role's keys", cred, cred.Meta)
			}
			var assumed []stsCall
			for _, c := range sts.all() {
				if c.action == "AssumeRole" {
					assumed = append(assumed, c)
				}
			}
			if len(assumed) != 1 || assumed[0].keyID != "AKIABASEKEYFORROLE01" || assumed[0].form.Get("RoleArn") != role {
				t.Fatalf("AssumeRole calls %+v, want one for %s signed by the chain's key", assumed, role)
			}
			if got := assumed[0].form.Get("RoleSessionName"); got != tc.want {
				t.Errorf("RoleSessionName = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestChainUsesHTTPClient: Options.HTTPClient makes the SDK's requests
// (here the STS check): a client that counts its connections sees them.
func TestChainUsesHTTPClient(t *testing.T) {
	newFakeSTS(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAHTTPCLIENTTEST01")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "client-secret")
	var dials atomic.Int32
	client := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.Proxy = nil
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return testenv.LoopbackDial(ctx, network, addr)
		}
	})
	cred, err := aws.New(aws.Options{Region: "us-east-1", HTTPClient: client}).Fetch(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cred.Meta["arn"] != fakeUserARN {
		t.Errorf("Meta = %v, want the identity STS reported", cred.Meta)
	}
	if dials.Load() == 0 {
		t.Error("the STS check did not go through Options.HTTPClient")
	}
}

// TestChainAccountFromCredentials: the account the SDK reports with the
// keys (AWS_ACCOUNT_ID) is in Meta even when STS is not asked (a scheduled
// refresh of a credential already checked); without one Meta has no
// account entry.
func TestChainAccountFromCredentials(t *testing.T) {
	for _, account := range []string{"111122223333", ""} {
		t.Run("account="+account, func(t *testing.T) {
			sts, _ := newFakeSTS(t)
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIAACCOUNTTEST00001")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "account-secret")
			t.Setenv("AWS_ACCOUNT_ID", account)
			// A previous credential with other keys: a scheduled refresh,
			// not re-checked with STS.
			prev := &resolver.Credential{Kind: resolver.KindAWS, Source: aws.Name,
				AWS: &resolver.AWSKeys{AccessKeyID: "AKIAPREVIOUS00000001", SecretAccessKey: resolver.NewSecret("previous-secret")}}
			cred, err := aws.New(options(aws.Options{Region: "us-east-1"})).Fetch(context.Background(), prev)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(sts.all()); n != 0 {
				t.Fatalf("%d STS calls for a scheduled refresh, want none", n)
			}
			if got, ok := cred.Meta["account"]; got != account || ok != (account != "") {
				t.Errorf("Meta[account] = %q (present %v), want %q", got, ok, account)
			}
		})
	}
}

// TestPersistent: which credentials are copied into the shared store.
// Keys read from the environment (AWS_ACCESS_KEY_ID, the bearer token) are
// not; whatever an export command or an assumed role produced is, even
// when AWS_ACCESS_KEY_ID is set too (the role is assumed with those keys,
// the export replaces them); so is what the SDK chain found elsewhere
// (SSO, profiles).
func TestPersistent(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	keys := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAENV"}
	for _, tc := range []struct {
		name string
		opts aws.Options
		want bool
	}{
		{"SDK chain without env keys", aws.Options{Getenv: env(nil)}, true},
		{"env keys", aws.Options{Getenv: env(keys)}, false},
		{"env keys with a role", aws.Options{RoleARN: "arn:aws:iam::1:role/R", Getenv: env(keys)}, true},
		{"env keys with an export command", aws.Options{CredentialExport: "get-creds", Getenv: env(keys)}, true},
		{"bearer token with an export command", aws.Options{CredentialExport: "get-creds", Getenv: env(map[string]string{aws.EnvBearerToken: "k"})}, false},
		{"skipped with a role", aws.Options{RoleARN: "arn:aws:iam::1:role/R", Getenv: env(map[string]string{"CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1"})}, false},
	} {
		if got := aws.New(tc.opts).Persistent(); got != tc.want {
			t.Errorf("%s: Persistent = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDescribe: status shows the role only when one is configured.
func TestDescribe(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	vars := map[string]string{"AWS_REGION": "eu-west-1", "AWS_PROFILE": "p"}
	got := aws.New(aws.Options{RoleARN: "arn:aws:iam::1:role/R", Getenv: env(vars)}).Describe()
	if got["role_arn"] != "arn:aws:iam::1:role/R" || got["region"] != "eu-west-1" || got["profile"] != "p" || got["auth"] != "aws-sdk default chain" {
		t.Errorf("Describe with a role = %v", got)
	}
	got = aws.New(aws.Options{Getenv: env(vars)}).Describe()
	if _, ok := got["role_arn"]; ok {
		t.Errorf("Describe without a role = %v, want no role_arn", got)
	}
}

// TestBearerTokenRegion: a bearer token's Meta carries the region when one
// is configured, and no region entry when none is.
func TestBearerTokenRegion(t *testing.T) {
	for _, region := range []string{"eu-central-1", ""} {
		t.Run("region="+region, func(t *testing.T) {
			hermeticAWS(t, "")
			t.Setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-0123456789abcdef")
			t.Setenv("AWS_REGION", region)
			cred, err := aws.New(options(aws.Options{})).Fetch(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := cred.Meta["region"]; got != region || ok != (region != "") {
				t.Errorf("Meta[region] = %q (present %v), want %q", got, ok, region)
			}
			if cred.Meta["auth"] != "AWS_BEARER_TOKEN_BEDROCK" {
				t.Errorf("Meta = %v, want auth AWS_BEARER_TOKEN_BEDROCK", cred.Meta)
			}
		})
	}
}

// TestScheduledRefreshKeepsTheCheckedIdentity: a scheduled refresh (new
// keys, no STS call) from the same provider keeps the account and ARN the
// last STS check found, so status goes on naming the identity; keys from
// another provider are another identity and carry nothing over.
func TestScheduledRefreshKeepsTheCheckedIdentity(t *testing.T) {
	const account, arn = "999988887777", "arn:aws:iam::999988887777:user/dev"
	for _, tc := range []struct {
		name, prevProvider string
		nilMeta, carried   bool
	}{
		{"same provider", "", false, true},
		{"another provider", "SSOProvider", false, false},
		{"no notes", "", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sts, _ := newFakeSTS(t)
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIAREFRESHED0000001")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "refreshed-secret")
			t.Setenv("AWS_ACCOUNT_ID", "")
			src := aws.New(options(aws.Options{Region: "us-east-1"}))
			prev := &resolver.Credential{Kind: resolver.KindAWS, Source: aws.Name,
				AWS: &resolver.AWSKeys{AccessKeyID: "AKIAPREVIOUS00000001", SecretAccessKey: resolver.NewSecret("previous-secret")}}
			if !tc.nilMeta {
				provider := tc.prevProvider
				if provider == "" {
					// What the same chain reports for these keys.
					first, err := src.Fetch(context.Background(), prev)
					if err != nil {
						t.Fatal(err)
					}
					provider = first.Meta["provider"]
				}
				prev.Meta = map[string]string{"provider": provider, "account": account, "arn": arn}
			}
			cred, err := src.Fetch(context.Background(), prev)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(sts.all()); n != 0 {
				t.Fatalf("%d STS calls for a scheduled refresh, want none", n)
			}
			gotAccount, gotARN := cred.Meta["account"], cred.Meta["arn"]
			if tc.carried && (gotAccount != account || gotARN != arn) {
				t.Errorf("Meta account %q arn %q; want the checked %q and %q kept", gotAccount, gotARN, account, arn)
			}
			if !tc.carried && (gotAccount != "" || gotARN != "") {
				t.Errorf("Meta account %q arn %q; want none carried over", gotAccount, gotARN)
			}
		})
	}
}
