package gcp_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/providers/gcp"
	"github.com/credchain/credchain/providers/internal/shell"
)

// TestDescribeFileAndTokenURL: status shows the credentials file (from the
// setting or GOOGLE_APPLICATION_CREDENTIALS) and the token URL only when
// they are configured.
func TestDescribeFileAndTokenURL(t *testing.T) {
	getenv := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name              string
		opts              gcp.Options
		wantFile, wantURL string // "" means absent
	}{
		{name: "nothing configured", opts: gcp.Options{Getenv: getenv(nil)}},
		{name: "gcp.credentials_file and gcp.token_url", opts: gcp.Options{CredentialsFile: "/etc/sa.json", TokenURL: "http://127.0.0.1:9/token", Getenv: getenv(nil)},
			wantFile: "/etc/sa.json", wantURL: "http://127.0.0.1:9/token"},
		{name: "GOOGLE_APPLICATION_CREDENTIALS", opts: gcp.Options{Getenv: getenv(map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "/env/sa.json"})},
			wantFile: "/env/sa.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := gcp.New(tc.opts).Describe()
			if got, ok := d["credentials_file"]; got != tc.wantFile || ok != (tc.wantFile != "") {
				t.Errorf("Describe = %v, want credentials_file %q", d, tc.wantFile)
			}
			if got, ok := d["token_url"]; got != tc.wantURL || ok != (tc.wantURL != "") {
				t.Errorf("Describe = %v, want token_url %q", d, tc.wantURL)
			}
		})
	}
}

// TestQuotaProject: the credentials' quota project (an authorized user's
// quota_project_id) is in Meta; credentials without one have no
// quota_project entry.
func TestQuotaProject(t *testing.T) {
	for _, tc := range []struct {
		name  string
		file  func(f *testenv.GoogleFake) []byte
		opts  func(f *testenv.GoogleFake, p string) gcp.Options
		quota string
	}{
		{name: "authorized user with quota_project_id", file: (*testenv.GoogleFake).AuthorizedUserJSON,
			opts: func(f *testenv.GoogleFake, p string) gcp.Options {
				return gcp.Options{CredentialsFile: p, TokenURL: f.TokenURL}
			}, quota: "qp-1"},
		{name: "service account without one", file: (*testenv.GoogleFake).ServiceAccountJSON,
			opts: func(f *testenv.GoogleFake, p string) gcp.Options { return gcp.Options{CredentialsFile: p} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := env(t)
			t.Setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "")
			f := testenv.NewGoogleFake(t)
			p := filepath.Join(home, "creds.json")
			writeFile(t, p, tc.file(f))
			cred, err := gcp.New(options(tc.opts(f, p))).Fetch(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := cred.Meta["quota_project"]; got != tc.quota || ok != (tc.quota != "") {
				t.Errorf("Meta = %v, want quota_project %q", cred.Meta, tc.quota)
			}
		})
	}
}

// TestTokenErrorHint: a refused token's error tells the user what to do:
// log in again or configure gcp.auth_refresh when none is set; when one is
// set, that it is being run.
func TestTokenErrorHint(t *testing.T) {
	for _, tc := range []struct {
		name, refresh, want, notWant string
	}{
		{name: "no gcp.auth_refresh", want: "renew the credentials (e.g. `gcloud auth application-default login`) or set gcp.auth_refresh", notWant: "renewing them with"},
		{name: "gcp.auth_refresh set", refresh: "true", want: "renewing them with gcp.auth_refresh", notWant: "or set gcp.auth_refresh"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := env(t)
			f := testenv.NewGoogleFake(t)
			f.FailNext(100)
			p := filepath.Join(home, "user.json")
			writeFile(t, p, f.AuthorizedUserJSON())
			_, err := gcp.New(options(gcp.Options{CredentialsFile: p, TokenURL: f.TokenURL, AuthRefresh: tc.refresh})).Fetch(context.Background(), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tc.notWant) {
				t.Fatalf("Fetch = %v, want an error saying %q (and not %q)", err, tc.want, tc.notWant)
			}
		})
	}
}

// TestAuthRefreshCooldownFollowsOptionsNow: the cool-down of
// gcpAuthRefresh (the configured one, else the default) is measured on
// Options.Now: the command is not run again until that clock has passed
// the cool-down, and the error in between says how long it is.
func TestAuthRefreshCooldownFollowsOptionsNow(t *testing.T) {
	for _, tc := range []struct {
		configured, want time.Duration
	}{
		{time.Minute, time.Minute},
		{0, shell.DefaultCooldown},
	} {
		t.Run(tc.want.String(), func(t *testing.T) {
			home := env(t)
			f := testenv.NewGoogleFake(t)
			f.FailNext(1000)
			p := filepath.Join(home, "user.json")
			writeFile(t, p, f.AuthorizedUserJSON())
			count := filepath.Join(home, "refresh.runs")
			clock := testenv.NewFakeClock(time.Now())
			src := gcp.New(options(gcp.Options{CredentialsFile: p, TokenURL: f.TokenURL, Now: clock.Now,
				RefreshCooldown: tc.configured, AuthRefresh: fmt.Sprintf("echo run >> %q", count)}))
			fetch := func() error {
				t.Helper()
				_, err := src.Fetch(context.Background(), nil)
				if err == nil {
					t.Fatal("Fetch succeeded with the token endpoint refusing")
				}
				return err
			}
			fetch()
			if err := fetch(); !strings.Contains(err.Error(), fmt.Sprintf("ran less than %v ago", tc.want)) {
				t.Errorf("Fetch within the cool-down: %v; want it to name the %v cool-down", err, tc.want)
			}
			if n := testenv.CountLines(t, count); n != 1 {
				t.Fatalf("gcpAuthRefresh ran %d times within the cool-down, want 1", n)
			}
			clock.Advance(tc.want + time.Second)
			fetch()
			if n := testenv.CountLines(t, count); n != 2 {
				t.Fatalf("gcpAuthRefresh ran %d times after Options.Now passed the cool-down, want 2", n)
			}
		})
	}
}

// TestIdentityADC: with no explicit file, the identity names gcloud's ADC
// file (~/.config/gcloud) and the user in it
// when it exists, so logging in as another user is another identity; it is
// "adc" when there is no such file.
func TestIdentityADC(t *testing.T) {
	home := env(t)
	getenv := func(string) string { return "" }
	src := gcp.New(gcp.Options{Getenv: getenv})
	if id := src.Identity(); !strings.HasPrefix(id, "credentials=adc ") {
		t.Errorf("Identity without an ADC file = %q, want credentials=adc", id)
	}
	writeFile(t, adcPath(home), []byte(`{"type":"authorized_user","client_id":"alice.apps.googleusercontent.com","refresh_token":"SECRET-A"}`))
	alice := src.Identity()
	if !strings.HasPrefix(alice, "credentials="+adcPath(home)+" ") || !strings.Contains(alice, "client_id=alice.apps.googleusercontent.com") {
		t.Errorf("Identity with an ADC file = %q, want its path and client", alice)
	}
	writeFile(t, adcPath(home), []byte(`{"type":"authorized_user","client_id":"bob.apps.googleusercontent.com","refresh_token":"SECRET-B"}`))
	if bob := src.Identity(); bob == alice || strings.Contains(bob, "SECRET") {
		t.Errorf("after logging in as another user: identity %q (was %q), want another one without the secret", bob, alice)
	}
}

// TestIdentityTokenURL: the token URL is part of the identity, so two
// token endpoints never share a stored token.
func TestIdentityTokenURL(t *testing.T) {
	env(t)
	getenv := func(string) string { return "" }
	a := gcp.New(gcp.Options{TokenURL: "http://127.0.0.1:9/a", Getenv: getenv}).Identity()
	b := gcp.New(gcp.Options{TokenURL: "http://127.0.0.1:9/b", Getenv: getenv}).Identity()
	if a == b || !strings.Contains(a, "token_url=http://127.0.0.1:9/a") {
		t.Errorf("identities %q and %q, want each naming its token URL", a, b)
	}
	if none := gcp.New(gcp.Options{Getenv: getenv}).Identity(); strings.Contains(none, "token_url") {
		t.Errorf("identity without a token URL = %q", none)
	}
}

// TestADCIgnoresCloudSDKConfig: cloud.google.com/go/auth (like Claude
// Code's google-auth-library) reads gcloud's ADC file from
// ~/.config/gcloud and never from CLOUDSDK_CONFIG. The token_uri the source
// passes on and the file the identity names must be that same file: an ADC
// file under CLOUDSDK_CONFIG (another user, another token endpoint) is
// neither used for the token nor named in the identity.
func TestADCIgnoresCloudSDKConfig(t *testing.T) {
	home := env(t)
	f := testenv.NewGoogleFake(t)
	writeFile(t, adcPath(home), withTokenURI(t, f.AuthorizedUserJSON(), f.TokenURL))
	elsewhere := filepath.Join(home, "gcloud-elsewhere")
	t.Setenv("CLOUDSDK_CONFIG", elsewhere)
	writeFile(t, filepath.Join(elsewhere, "application_default_credentials.json"),
		[]byte(fmt.Sprintf(`{"type":"authorized_user","client_id":"other.apps.googleusercontent.com","client_secret":"s","refresh_token":"rt-other","token_uri":"http://127.0.0.1:%d/token"}`, testenv.DeadPort(t))))
	src := gcp.New(options(gcp.Options{Project: "p"}))
	cred, err := src.Fetch(context.Background(), nil)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if !f.IsIssued(cred.Token.Reveal(), testenv.GrantRefreshToken) {
		t.Fatalf("Fetch = %v, want a user token from the home ADC file's token_uri", cred)
	}
	if id := src.Identity(); !strings.HasPrefix(id, "credentials="+adcPath(home)+" ") || !strings.Contains(id, "client_id="+testenv.GoogleClientID) {
		t.Errorf("Identity = %q, want the home ADC file (the one the library uses) and its client", id)
	}
}
