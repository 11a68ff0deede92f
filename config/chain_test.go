//go:build unix

package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source/all"
)

// pipeFD returns the number of a descriptor that holds secret (a real pipe,
// written and closed), owned by the fd source that reads it. If no source
// read it by the end of the test, it is closed then.
func pipeFD(t *testing.T, secret string) int {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString(secret + "\n"); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	// A bare descriptor, so no *os.File finalizer closes it behind the
	// source's back (or after the number was reused).
	fd, err := syscall.Dup(int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var now syscall.Stat_t
		if syscall.Fstat(fd, &now) == nil && now.Ino == st.Ino && now.Dev == st.Dev {
			_ = syscall.Close(fd)
		}
	})
	return fd
}

// closedFD returns a descriptor number that is not open.
func closedFD(t *testing.T) int {
	t.Helper()
	for fd := 900; fd < 1000; fd++ {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); errors.Is(err, syscall.EBADF) {
			return fd
		}
	}
	t.Fatal("no closed descriptor between 900 and 1000")
	return 0
}

// configurable are the sources of the default chain a unit test can
// configure, in chain order, each with how to turn it on with a secret and
// how to recognise its credential.
type configurable struct {
	name string
	kind resolver.Kind
	// persistent sources keep records in the store, so the store is opened
	// when they are configured.
	persistent bool
	set        func(t *testing.T, env mapEnv, secret string)
	// issued reports whether cred is the one set; nil compares the secret.
	issued func(cred *resolver.Credential) bool
}

// configurableSources are every source of the default chain but oauth (a
// stored login needs an OpenID provider; oauthpkce's and the CLI's tests
// cover it): bedrock with a Bedrock API key (a bearer token, no STS call),
// vertex with a service account whose token endpoint is a local fake.
func configurableSources(t *testing.T) []configurable {
	fake := testenv.NewGoogleFake(t)
	sa := writeFile(t, t.TempDir(), "sa.json", string(fake.ServiceAccountJSON()))
	return []configurable{
		{name: SourceBedrock, kind: resolver.KindBearer, set: func(_ *testing.T, env mapEnv, s string) {
			env["CLAUDE_CODE_USE_BEDROCK"] = "1"
			env["AWS_BEARER_TOKEN_BEDROCK"] = s
		}},
		{name: SourceVertex, kind: resolver.KindGoogle, persistent: true, set: func(_ *testing.T, env mapEnv, _ string) {
			env["CLAUDE_CODE_USE_VERTEX"] = "true"
			env["CREDCHAIN_GCP_CREDENTIALS_FILE"] = sa
			env["CREDCHAIN_GCP_REGION"] = "europe-west4"
		}, issued: func(c *resolver.Credential) bool { return fake.IsIssued(c.Token.Reveal(), testenv.GrantJWTBearer) }},
		{name: SourceAuthToken, kind: resolver.KindBearer, set: func(_ *testing.T, env mapEnv, s string) { env["ANTHROPIC_AUTH_TOKEN"] = s }},
		{name: SourceAPIKey, kind: resolver.KindAPIKey, set: func(_ *testing.T, env mapEnv, s string) { env["ANTHROPIC_API_KEY"] = s }},
		{name: SourceAPIKeyFD, kind: resolver.KindAPIKey, set: func(t *testing.T, env mapEnv, s string) {
			env["CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR"] = strconv.Itoa(pipeFD(t, s))
		}},
		{name: SourceAPIKeyHelper, kind: resolver.KindAPIKey, set: func(_ *testing.T, env mapEnv, s string) {
			env["CREDCHAIN_API_KEY_HELPER"] = "printf '%s\\n' " + s
		}},
		{name: SourceOAuthToken, kind: resolver.KindBearer, set: func(_ *testing.T, env mapEnv, s string) { env["CLAUDE_CODE_OAUTH_TOKEN"] = s }},
		{name: SourceOAuthTokenFD, kind: resolver.KindBearer, set: func(t *testing.T, env mapEnv, s string) {
			env["CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR"] = strconv.Itoa(pipeFD(t, s))
		}},
	}
}

// is reports whether cred came from c with the secret c was set with.
func (c configurable) is(cred *resolver.Credential) bool {
	if cred.Source != c.name || cred.Kind != c.kind {
		return false
	}
	if c.issued != nil {
		return c.issued(cred)
	}
	return cred.Token.Reveal() == secretFor(c.name)
}

// secretFor is a distinct secret per source, long enough to be masked.
func secretFor(source string) string {
	return "secret-of-" + source + "-0123456789abcdef"
}

// resolveWith loads settings from env, builds the chain and resolves once.
func resolveWith(t *testing.T, env mapEnv) (*resolver.Credential, *resolver.Resolver, resolver.Config, error) {
	t.Helper()
	env["CREDCHAIN_STORE_BACKEND"] = "memory"
	s, err := load(t, env, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg, err := s.Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg.NoBackgroundRefresh = true
	r, err := resolver.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	cred, err := r.Resolve(ctx)
	return cred, r, cfg, err
}

// TestPrecedenceEveryPair sets two sources of the default chain at once,
// for every pair that can be configured here, in both orders, and checks
// that the higher one wins with its own credential and kind.
func TestPrecedenceEveryPair(t *testing.T) {
	testenv.Hermetic(t)
	srcs := configurableSources(t)
	for i := range srcs {
		for j := i + 1; j < len(srcs); j++ {
			hi, lo := srcs[i], srcs[j]
			for _, order := range []string{"higher set first", "lower set first"} {
				t.Run(hi.name+"_over_"+lo.name+"/"+order, func(t *testing.T) {
					env := mapEnv{}
					if order == "higher set first" {
						hi.set(t, env, secretFor(hi.name))
						lo.set(t, env, secretFor(lo.name))
					} else {
						lo.set(t, env, secretFor(lo.name))
						hi.set(t, env, secretFor(hi.name))
					}
					cred, r, cfg, err := resolveWith(t, env)
					if err != nil {
						t.Fatalf("Resolve: %v", err)
					}
					if !hi.is(cred) {
						t.Fatalf("got %v, want source %s kind %s with its own credential", cred, hi.name, hi.kind)
					}
					if r.Active() != hi.name {
						t.Errorf("Active = %q", r.Active())
					}
					// Unless a source that keeps records is configured, the
					// keychain is never opened.
					if !hi.persistent && !lo.persistent && cfg.Store.(*lazyStore).opened() {
						t.Error("the store was opened to resolve an environment credential")
					}
				})
			}
		}
	}
}

// TestPrecedenceAllAtOnce peels the chain: with every configurable source
// set, each resolution must pick the highest still set.
func TestPrecedenceAllAtOnce(t *testing.T) {
	testenv.Hermetic(t)
	srcs := configurableSources(t)
	for skip := range srcs {
		t.Run("from_"+srcs[skip].name, func(t *testing.T) {
			env := mapEnv{}
			for _, s := range srcs[skip:] {
				s.set(t, env, secretFor(s.name))
			}
			cred, _, _, err := resolveWith(t, env)
			if err != nil {
				t.Fatal(err)
			}
			if !srcs[skip].is(cred) {
				t.Errorf("got %v, want %s", cred, srcs[skip].name)
			}
		})
	}
}

// TestFailingSourceStopsTheChain: a configured source that fails is the
// answer; the chain never falls through to a lower identity.
func TestFailingSourceStopsTheChain(t *testing.T) {
	testenv.Hermetic(t)
	tests := []struct {
		name      string
		env       func(t *testing.T) mapEnv
		source    string
		errSubstr string
	}{
		{"api-key-fd on a closed descriptor", func(t *testing.T) mapEnv {
			return mapEnv{"CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR": strconv.Itoa(closedFD(t)), "CLAUDE_CODE_OAUTH_TOKEN": secretFor("oauth-token")}
		}, SourceAPIKeyFD, "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR"},
		{"api-key-fd not a number", func(t *testing.T) mapEnv {
			return mapEnv{"CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR": "three", "CLAUDE_CODE_OAUTH_TOKEN": secretFor("oauth-token")}
		}, SourceAPIKeyFD, "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR"},
		{"oauth-token-fd empty", func(t *testing.T) mapEnv {
			return mapEnv{"CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR": strconv.Itoa(pipeFD(t, ""))}
		}, SourceOAuthTokenFD, "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR"},
		{"vertex with a missing credentials file", func(t *testing.T) mapEnv {
			return mapEnv{"CLAUDE_CODE_USE_VERTEX": "1", "CREDCHAIN_GCP_CREDENTIALS_FILE": t.TempDir() + "/missing.json",
				"CREDCHAIN_GCP_REGION": "europe-west4", "ANTHROPIC_API_KEY": secretFor("oauth-token")}
		}, SourceVertex, "missing.json"},
		{"bedrock without AWS credentials", func(t *testing.T) mapEnv {
			return mapEnv{"CLAUDE_CODE_USE_BEDROCK": "1", "CREDCHAIN_AWS_REGION": "us-east-1", "ANTHROPIC_API_KEY": secretFor("oauth-token")}
		}, SourceBedrock, "bedrock"},
		{"api-key-helper failing", func(t *testing.T) mapEnv {
			return mapEnv{"CREDCHAIN_API_KEY_HELPER": "echo helper broke >&2; exit 3", "CLAUDE_CODE_OAUTH_TOKEN": secretFor("oauth-token")}
		}, SourceAPIKeyHelper, "helper broke"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, _, _, err := resolveWith(t, tt.env(t))
			if err == nil {
				t.Fatalf("Resolve succeeded with %v; want the error of %s", cred, tt.source)
			}
			if errors.Is(err, resolver.ErrNotConfigured) || errors.Is(err, resolver.ErrNoSource) {
				t.Errorf("error %v reads as not configured", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.source) || !strings.Contains(msg, tt.errSubstr) {
				t.Errorf("error %q does not name %s and %q", msg, tt.source, tt.errSubstr)
			}
			if strings.Contains(msg, secretFor("oauth-token")) {
				t.Error("the error contains a secret")
			}
		})
	}
}

// TestNothingConfiguredListsEverySource: one error naming every source of
// the chain with its reason.
func TestNothingConfiguredListsEverySource(t *testing.T) {
	testenv.Hermetic(t)
	_, _, _, err := resolveWith(t, mapEnv{})
	var ns *resolver.NoSourceError
	if !errors.As(err, &ns) || !errors.Is(err, resolver.ErrNoSource) {
		t.Fatalf("error %v is not a NoSourceError", err)
	}
	if len(ns.Reasons) != len(DefaultChain(all.Sources())) {
		t.Fatalf("%d reasons for %d sources: %v", len(ns.Reasons), len(DefaultChain(all.Sources())), err)
	}
	for i, name := range DefaultChain(all.Sources()) {
		r := ns.Reasons[i]
		if r.Source != name || r.Reason == "" {
			t.Errorf("reason %d = %+v, want source %s with a reason", i, r, name)
		}
	}
	msg := err.Error()
	for _, want := range []string{"ANTHROPIC_API_KEY", "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR", "api_key_helper (apiKeyHelper) is not set",
		"CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_OAUTH_TOKEN"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %s:\n%s", want, msg)
		}
	}
}

// TestChainOrderAndMembership: the configured order decides, and sources
// outside the chain are not built at all.
func TestChainOrderAndMembership(t *testing.T) {
	testenv.Hermetic(t)
	env := mapEnv{
		"CREDCHAIN_CHAIN":      "api-key auth-token",
		"ANTHROPIC_API_KEY":    secretFor("api-key"),
		"ANTHROPIC_AUTH_TOKEN": secretFor("auth-token"),
	}
	cred, r, _, err := resolveWith(t, env)
	if err != nil {
		t.Fatal(err)
	}
	if cred.Source != SourceAPIKey {
		t.Errorf("winner %s, want api-key (first in the configured chain)", cred.Source)
	}
	var names []string
	for _, s := range r.Sources() {
		names = append(names, s.Name())
	}
	if fmt.Sprint(names) != "[api-key auth-token]" {
		t.Errorf("sources built: %v", names)
	}
}

// TestRenamedVariables: every variable name comes from the settings.
func TestRenamedVariables(t *testing.T) {
	testenv.Hermetic(t)
	env := mapEnv{
		"CREDCHAIN_VARIABLES_API_KEY": "MY_API_KEY",
		"ANTHROPIC_API_KEY":           "ignored-because-renamed-000000",
		"MY_API_KEY":                  secretFor("api-key"),
	}
	cred, _, _, err := resolveWith(t, env)
	if err != nil {
		t.Fatal(err)
	}
	if cred.Source != SourceAPIKey || cred.Token.Reveal() != secretFor("api-key") {
		t.Errorf("got %v", cred)
	}
}

// TestStoreOpenedLazily: the store is opened on first use only, and a
// failure to open it is remembered and reported.
func TestStoreOpenedLazily(t *testing.T) {
	opens := 0
	l := &lazyStore{opts: cache.Options{Backend: "memory"}, open: func(context.Context, cache.Options) (cache.Store, error) {
		opens++
		return nil, errors.New("keychain locked")
	}}
	if l.opened() {
		t.Fatal("opened before use")
	}
	if _, err := l.Get(context.Background(), "k"); err == nil || !strings.Contains(err.Error(), "keychain locked") {
		t.Errorf("Get: %v", err)
	}
	if _, err := l.Get(context.Background(), "k"); err == nil {
		t.Error("second Get succeeded")
	}
	if opens != 1 {
		t.Errorf("opened %d times, want 1", opens)
	}
	if b := l.Backend(); b != "memory (unavailable)" {
		t.Errorf("Backend = %q", b)
	}
	if d := l.Describe(); d["error"] != "keychain locked" {
		t.Errorf("Describe = %v", d)
	}
}
