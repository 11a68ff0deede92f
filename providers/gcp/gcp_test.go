package gcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/providers/gcp"
	"github.com/credchain/credchain/resolver"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o700); err != nil {
		t.Fatal(err)
	}
}

// env makes the test hermetic (the metadata server is a dead loopback port
// unless the test points GCE_METADATA_HOST at a fake) and returns HOME.
func env(t *testing.T) string {
	t.Helper()
	home := testenv.Hermetic(t)
	t.Setenv("CLAUDE_CODE_USE_VERTEX", "1")
	// Variables testenv.Hermetic does not know about that would change
	// what these tests expect.
	for _, v := range []string{"GOOGLE_AUTH_TRUST_BOUNDARY_ENABLED", "CLOUD_ML_REGION", "ANTHROPIC_VERTEX_PROJECT_ID", "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES"} {
		t.Setenv(v, "")
	}
	return home
}

// withTokenURI adds a token_uri to a credentials file, as gcloud writes
// one for a non-default endpoint.
func withTokenURI(t *testing.T, data []byte, uri string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["token_uri"] = uri
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func adcPath(home string) string {
	return filepath.Join(home, ".config", "gcloud", "application_default_credentials.json")
}

func options(o gcp.Options) gcp.Options {
	o.HTTPClient = testenv.LoopbackHTTPClient()
	return o
}

func TestProbe(t *testing.T) {
	for _, tc := range []struct {
		value   string
		enabled bool
		want    bool
	}{
		{"", false, false}, {"0", false, false}, {"off", false, false},
		{"1", false, true}, {"True", false, true}, {"YES", false, true}, {"on", false, true},
		{"", true, true},
	} {
		t.Run(fmt.Sprintf("%q/enabled=%v", tc.value, tc.enabled), func(t *testing.T) {
			testenv.Hermetic(t)
			t.Setenv("CLAUDE_CODE_USE_VERTEX", tc.value)
			err := gcp.New(gcp.Options{Enabled: tc.enabled}).Probe()
			if tc.want != (err == nil) {
				t.Fatalf("Probe = %v, want configured=%v", err, tc.want)
			}
			if !tc.want && (!errors.Is(err, resolver.ErrNotConfigured) || !strings.Contains(err.Error(), "CLAUDE_CODE_USE_VERTEX")) {
				t.Fatalf("Probe = %v, want ErrNotConfigured naming CLAUDE_CODE_USE_VERTEX", err)
			}
		})
	}
}

// TestCredentialTypes runs the library's own code for each kind of
// credentials against the wire-exact fake.
func TestCredentialTypes(t *testing.T) {
	for _, tc := range []struct {
		name        string
		setup       func(t *testing.T, home string, f *testenv.GoogleFake) gcp.Options
		grant       string
		wantProject string
	}{
		{
			name: "service account key via gcp.credentials_file (RS256 assertion verified)",
			setup: func(t *testing.T, home string, f *testenv.GoogleFake) gcp.Options {
				p := filepath.Join(home, "sa.json")
				writeFile(t, p, f.ServiceAccountJSON())
				return gcp.Options{CredentialsFile: p}
			},
			grant: testenv.GrantJWTBearer, wantProject: testenv.GoogleProject,
		},
		{
			name: "service account key via GOOGLE_APPLICATION_CREDENTIALS, project from the environment",
			setup: func(t *testing.T, home string, f *testenv.GoogleFake) gcp.Options {
				p := filepath.Join(home, "sa.json")
				writeFile(t, p, f.ServiceAccountJSON())
				t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", p)
				t.Setenv("GOOGLE_CLOUD_PROJECT", "env-project")
				return gcp.Options{}
			},
			grant: testenv.GrantJWTBearer, wantProject: "env-project",
		},
		{
			name: "authorized user in gcloud's ADC file with gcp.token_url",
			setup: func(t *testing.T, home string, f *testenv.GoogleFake) gcp.Options {
				writeFile(t, adcPath(home), f.AuthorizedUserJSON())
				return gcp.Options{TokenURL: f.TokenURL, Project: "settings-project"}
			},
			grant: testenv.GrantRefreshToken, wantProject: "settings-project",
		},
		{
			name: "authorized user in gcloud's ADC file with its own token_uri",
			setup: func(t *testing.T, home string, f *testenv.GoogleFake) gcp.Options {
				writeFile(t, adcPath(home), withTokenURI(t, f.AuthorizedUserJSON(), f.TokenURL))
				return gcp.Options{Project: "settings-project"}
			},
			grant: testenv.GrantRefreshToken, wantProject: "settings-project",
		},
		{
			name: "authorized user via GOOGLE_APPLICATION_CREDENTIALS with its own token_uri",
			setup: func(t *testing.T, home string, f *testenv.GoogleFake) gcp.Options {
				p := filepath.Join(home, "user.json")
				writeFile(t, p, withTokenURI(t, f.AuthorizedUserJSON(), f.TokenURL))
				t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", p)
				return gcp.Options{Project: "settings-project"}
			},
			grant: testenv.GrantRefreshToken, wantProject: "settings-project",
		},
		{
			name: "external account (workload identity federation) with a file subject token",
			setup: func(t *testing.T, home string, f *testenv.GoogleFake) gcp.Options {
				subject := filepath.Join(home, "subject.txt")
				writeFile(t, subject, []byte(testenv.GoogleSubjectToken))
				p := filepath.Join(home, "wif.json")
				writeFile(t, p, f.ExternalAccountJSON(subject, false))
				return gcp.Options{CredentialsFile: p, Project: "wif-project"}
			},
			grant: testenv.GrantTokenExchange, wantProject: "wif-project",
		},
		{
			name: "external account impersonating a service account",
			setup: func(t *testing.T, home string, f *testenv.GoogleFake) gcp.Options {
				subject := filepath.Join(home, "subject.txt")
				writeFile(t, subject, []byte(testenv.GoogleSubjectToken))
				p := filepath.Join(home, "wif.json")
				writeFile(t, p, f.ExternalAccountJSON(subject, true))
				return gcp.Options{CredentialsFile: p, Project: "wif-project"}
			},
			grant: testenv.GrantImpersonation, wantProject: "wif-project",
		},
		{
			name: "metadata server at GCE_METADATA_HOST",
			setup: func(t *testing.T, home string, f *testenv.GoogleFake) gcp.Options {
				t.Setenv("GCE_METADATA_HOST", f.Host)
				return gcp.Options{}
			},
			grant: testenv.GrantMetadata, wantProject: testenv.GoogleProject,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := env(t)
			f := testenv.NewGoogleFake(t)
			src := gcp.New(options(tc.setup(t, home, f)))
			cred, err := src.Fetch(context.Background(), nil)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			f.Check(t)
			if cred.Kind != resolver.KindGoogle || !f.IsIssued(cred.Token.Reveal(), tc.grant) {
				t.Fatalf("Fetch = %v, want a %s token from the fake", cred, tc.grant)
			}
			if d := time.Until(cred.Expiry); d < 59*time.Minute || d > time.Hour {
				t.Errorf("expires in %v, want the token's own hour", d)
			}
			if cred.Meta["project"] != tc.wantProject || cred.Meta["region"] != gcp.DefaultRegion {
				t.Errorf("meta = %v, want project %q region %q", cred.Meta, tc.wantProject, gcp.DefaultRegion)
			}
			if name, value, ok := cred.Header(); !ok || name != "Authorization" || value != "Bearer "+cred.Token.Reveal() {
				t.Errorf("header %s: %s", name, value)
			}
			// One token per Fetch: the library's own cache is not kept.
			if _, err := src.Fetch(context.Background(), cred); err != nil {
				t.Fatal(err)
			}
			if n := f.Calls(tc.grant); n != 2 {
				t.Errorf("%d token requests for 2 fetches, want 2 (the resolver, not the library, caches)", n)
			}
		})
	}
}

func TestRegionAndProjectSettings(t *testing.T) {
	env(t)
	t.Setenv("CLOUD_ML_REGION", "europe-west1")
	t.Setenv("ANTHROPIC_VERTEX_PROJECT_ID", "vertex-project")
	d := gcp.New(gcp.Options{}).Describe()
	if d["region"] != "europe-west1" || d["project"] != "vertex-project" {
		t.Fatalf("Describe = %v", d)
	}
	d = gcp.New(gcp.Options{Region: "us-central1", Project: "p"}).Describe()
	if d["region"] != "us-central1" || d["project"] != "p" {
		t.Fatalf("Describe with settings = %v", d)
	}
}

// TestProactiveRefresh: Google tokens flow through the resolver's
// scheduler, refreshed the resolver's window (5 min, not the library's
// 3m45s) before expiry, and stored for other processes.
func TestProactiveRefresh(t *testing.T) {
	env(t)
	f := testenv.NewGoogleFake(t)
	t.Setenv("GCE_METADATA_HOST", f.Host)
	clock := testenv.NewFakeClock(time.Now())
	events := testenv.NewEvents()
	store := cache.NewMemory()
	src := gcp.New(options(gcp.Options{}))
	r, err := resolver.New(context.Background(), resolver.Config{
		Sources: []resolver.Source{src},
		Store:   store, Clock: clock,
		OnEvent: events.Add,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	first, err := r.Resolve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	events.Wait(t, resolver.EventRefreshed)
	// Just outside the resolver's window: nothing yet.
	clock.Advance(first.Expiry.Add(-resolver.DefaultRefreshWindow - time.Second).Sub(clock.Now()))
	if again, _ := r.Resolve(context.Background()); again != first || f.Calls(testenv.GrantMetadata) != 1 {
		t.Fatalf("refreshed before the resolver's window (%d token requests)", f.Calls(testenv.GrantMetadata))
	}
	// Inside it (4m59s before expiry, where the library would still call
	// its token fresh): the scheduler refreshes.
	clock.Advance(2 * time.Second)
	events.Wait(t, resolver.EventRefreshed)
	second, err := r.Resolve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if second.SameSecret(first) || f.Calls(testenv.GrantMetadata) != 2 {
		t.Fatalf("after entering the refresh window: %v with %d token requests, want a second token", second, f.Calls(testenv.GrantMetadata))
	}
	data, err := store.Get(context.Background(), resolver.StoreKey(src))
	if err != nil {
		t.Fatal(err)
	}
	if stored, err := resolver.DecodeRecord(data); err != nil || !stored.SameSecret(second) {
		t.Fatalf("stored %v (%v), want the refreshed token", stored, err)
	}
}

// TestAuthRefresh: gcpAuthRefresh runs only when getting a token fails,
// with its output shown, at most once per cool-down.
func TestAuthRefresh(t *testing.T) {
	t.Run("not run while tokens come", func(t *testing.T) {
		home := env(t)
		f := testenv.NewGoogleFake(t)
		t.Setenv("GCE_METADATA_HOST", f.Host)
		count := filepath.Join(home, "refresh.runs")
		src := gcp.New(options(gcp.Options{AuthRefresh: "echo run >> " + count}))
		for range 2 {
			if _, err := src.Fetch(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
		}
		if n := testenv.CountLines(t, count); n != 0 {
			t.Fatalf("gcpAuthRefresh ran %d times with working credentials", n)
		}
	})
	t.Run("no credentials: the command logs in, then the token comes", func(t *testing.T) {
		home := env(t)
		f := testenv.NewGoogleFake(t)
		adc := filepath.Join(home, "user.json")
		writeFile(t, adc, f.AuthorizedUserJSON())
		count := filepath.Join(home, "refresh.runs")
		// Like `gcloud auth application-default login`: write the ADC file.
		script := fmt.Sprintf("echo run >> %q; echo 'Credentials saved to file'; mkdir -p %q && cp %q %q",
			count, filepath.Dir(adcPath(home)), adc, adcPath(home))
		var shown bytes.Buffer
		src := gcp.New(options(gcp.Options{AuthRefresh: script, TokenURL: f.TokenURL, Output: &shown}))
		cred, err := src.Fetch(context.Background(), nil)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if !f.IsIssued(cred.Token.Reveal(), testenv.GrantRefreshToken) || testenv.CountLines(t, count) != 1 {
			t.Fatalf("Fetch = %v after %d runs, want a user token after one run", cred, testenv.CountLines(t, count))
		}
		if !strings.Contains(shown.String(), "Credentials saved to file") {
			t.Errorf("interactive output not shown: %q", shown.String())
		}
	})
	t.Run("token refused: output in the error, cool-down respected", func(t *testing.T) {
		home := env(t)
		f := testenv.NewGoogleFake(t)
		t.Setenv("GCE_METADATA_HOST", f.Host)
		f.FailNext(100)
		count := filepath.Join(home, "refresh.runs")
		src := gcp.New(options(gcp.Options{AuthRefresh: fmt.Sprintf("echo run >> %q; echo please log in >&2; exit 3", count)}))
		_, err := src.Fetch(context.Background(), nil)
		if err == nil || !strings.Contains(err.Error(), "gcpAuthRefresh") || !strings.Contains(err.Error(), "please log in") {
			t.Fatalf("Fetch = %v, want an error naming gcpAuthRefresh with its output", err)
		}
		_, err = src.Fetch(context.Background(), nil)
		if err == nil || testenv.CountLines(t, count) != 1 {
			t.Fatalf("second Fetch = %v after %d runs, want a failure without a second run (cool-down)", err, testenv.CountLines(t, count))
		}
	})
	t.Run("a hanging command is stopped at the timeout", func(t *testing.T) {
		env(t)
		f := testenv.NewGoogleFake(t)
		t.Setenv("GCE_METADATA_HOST", f.Host)
		f.FailNext(100)
		pidFile := filepath.Join(t.TempDir(), "pid")
		src := gcp.New(options(gcp.Options{AuthRefresh: testenv.HangingCommand(pidFile), CommandTimeout: 300 * time.Millisecond}))
		_, err := src.Fetch(context.Background(), nil)
		if err == nil || !strings.Contains(err.Error(), "gcp.auth_refresh") || !strings.Contains(err.Error(), "did not finish within 300ms") {
			t.Fatalf("Fetch = %v, want a timeout naming gcp.auth_refresh", err)
		}
		testenv.WaitProcessesGone(t, []int{testenv.ReadPID(t, pidFile)}, 10*time.Second) // it would sleep 10 minutes
	})
}

func TestMalformedCredentialsFile(t *testing.T) {
	const secretish = "-----BEGIN PRIVATE KEY-----MIIEvQIBADANBgkqhkiG9w0B"
	for _, tc := range []struct {
		name, content, want string
		viaEnv              bool
	}{
		{"not JSON", "{" + secretish, "is not valid JSON", false},
		{"no type", `{"private_key":"` + secretish + `"}`, `has no "type" field`, false},
		{"unknown type", `{"type":"api_key"}`, `unsupported type "api_key"`, false},
		{"service account without a key", `{"type":"service_account","client_email":"a@b"}`, "cannot be used", false},
		{"not JSON via GOOGLE_APPLICATION_CREDENTIALS", "garbage " + secretish, "is not valid JSON", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := env(t)
			p := filepath.Join(home, "creds.json")
			writeFile(t, p, []byte(tc.content))
			opts := gcp.Options{CredentialsFile: p}
			setting := "gcp.credentials_file"
			if tc.viaEnv {
				t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", p)
				opts = gcp.Options{}
				setting = "GOOGLE_APPLICATION_CREDENTIALS"
			}
			_, err := gcp.New(options(opts)).Fetch(context.Background(), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), setting) || !strings.Contains(err.Error(), p) {
				t.Fatalf("Fetch = %v, want %q naming %s and the file", err, tc.want, setting)
			}
			if strings.Contains(err.Error(), "MIIEvQ") {
				t.Fatalf("the error quotes the file's secret: %v", err)
			}
		})
	}
}

// TestVertexRequest: a Vertex-shaped request through resolver.Transport
// reaches a local server with the right bearer, and a 401 gets a new token
// and one retry.
func TestVertexRequest(t *testing.T) {
	home := env(t)
	f := testenv.NewGoogleFake(t)
	p := filepath.Join(home, "sa.json")
	writeFile(t, p, f.ServiceAccountJSON())
	var mu sync.Mutex
	var seen []string
	refuseFirst := true
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+string(body))
		if refuseFirst {
			refuseFirst = false
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"type":"message"}`))
	}))
	t.Cleanup(api.Close)
	src := gcp.New(options(gcp.Options{CredentialsFile: p, Region: "us-east5"}))
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}, Store: cache.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	cred, err := r.Resolve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/v1/projects/%s/locations/%s/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict", cred.Meta["project"], cred.Meta["region"])
	resp, err := (&http.Client{Transport: r.Transport(testenv.LoopbackHTTPClient().Transport)}).Post(api.URL+path, "application/json", strings.NewReader(`{"anthropic_version":"vertex-2023-10-16"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != http.StatusOK || len(seen) != 2 {
		t.Fatalf("status %d after requests %q, want 200 after one retry", resp.StatusCode, seen)
	}
	for i, s := range seen {
		fields := strings.SplitN(s, " ", 5)
		if fields[1] != "/v1/projects/fake-project/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict" ||
			fields[2] != "Bearer" || !f.IsIssued(fields[3], testenv.GrantJWTBearer) || fields[4] != `{"anthropic_version":"vertex-2023-10-16"}` {
			t.Errorf("request %d = %q", i, s)
		}
	}
	if strings.Fields(seen[0])[3] == strings.Fields(seen[1])[3] {
		t.Errorf("the retry after a 401 used the refused token")
	}
	f.Check(t)
}
