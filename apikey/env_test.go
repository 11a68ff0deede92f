package apikey_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/credchain/credchain/apikey"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// defaultEnvSources are the environment sources in the default chain's
// order.
func defaultEnvSources(getenv func(string) string) []resolver.Source {
	return []resolver.Source{
		apikey.NewEnv("auth-token", "ANTHROPIC_AUTH_TOKEN", resolver.KindBearer, getenv),
		apikey.NewEnv("api-key", "ANTHROPIC_API_KEY", resolver.KindAPIKey, getenv),
		apikey.NewEnv("oauth-token", "CLAUDE_CODE_OAUTH_TOKEN", resolver.KindBearer, getenv),
	}
}

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestEnvNotConfigured(t *testing.T) {
	testenv.Hermetic(t)
	for _, tc := range []struct {
		value, reason string
	}{
		{"", " is not set"},
		{"   ", " is empty"},
		{"\n\t ", " is empty"},
	} {
		for _, src := range defaultEnvSources(mapEnv(map[string]string{
			"ANTHROPIC_AUTH_TOKEN": tc.value, "ANTHROPIC_API_KEY": tc.value, "CLAUDE_CODE_OAUTH_TOKEN": tc.value,
		})) {
			variable := src.(resolver.Describer).Describe()["variable"]
			want := variable + tc.reason
			if err := src.(resolver.Prober).Probe(); !errors.Is(err, resolver.ErrNotConfigured) || resolver.Reason(err) != want {
				t.Errorf("%s: Probe() with %q = %v, want not configured %q", src.Name(), tc.value, err, want)
			}
			if cred, err := src.Fetch(context.Background(), nil); cred != nil || !errors.Is(err, resolver.ErrNotConfigured) || resolver.Reason(err) != want {
				t.Errorf("%s: Fetch() with %q = %v, %v; want not configured %q", src.Name(), tc.value, cred, err, want)
			}
		}
	}
}

func TestEnvValue(t *testing.T) {
	testenv.Hermetic(t)
	const key = "sk-ant-api03-env-test-key-0042"
	vars := map[string]string{"ANTHROPIC_API_KEY": "  " + key + " \n"}
	src := apikey.NewEnv("api-key", "ANTHROPIC_API_KEY", resolver.KindAPIKey, mapEnv(vars))
	if err := src.Probe(); err != nil {
		t.Fatalf("Probe() = %v", err)
	}
	first, err := src.Fetch(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Token.Reveal() != key || first.Kind != resolver.KindAPIKey || first.Source != "api-key" || !first.Expiry.IsZero() || !first.RefreshAt.IsZero() {
		t.Fatalf("credential = %v (secret %d bytes), want api_key %s that never expires", first, len(first.Token.Reveal()), key[len(key)-4:])
	}
	again, _ := src.Fetch(context.Background(), first)
	if again != first {
		t.Fatal("a second Fetch of an unchanged variable returned a new *Credential")
	}
	allocs := testing.AllocsPerRun(100, func() { _, _ = src.Fetch(context.Background(), nil) })
	if allocs != 0 {
		t.Errorf("Fetch of an unchanged variable allocates %v times, want 0", allocs)
	}
	vars["ANTHROPIC_API_KEY"] = key + "-rotated"
	rotated, err := src.Fetch(context.Background(), first)
	if err != nil || rotated == first || rotated.Token.Reveal() != key+"-rotated" {
		t.Fatalf("after the variable changed: %v, %v", rotated, err)
	}
}

func TestEnvControlCharacters(t *testing.T) {
	testenv.Hermetic(t)
	for _, v := range []string{"sk-ant-first-line\nsk-ant-second-line", "sk-ant-\x1b[2Jclear-screen", "sk-ant-\x00nul-in-key", "sk-ant-\xffinvalid-utf8"} {
		src := apikey.NewEnv("auth-token", "ANTHROPIC_AUTH_TOKEN", resolver.KindBearer, mapEnv(map[string]string{"ANTHROPIC_AUTH_TOKEN": v}))
		if err := src.Probe(); err != nil {
			t.Errorf("Probe() = %v; a set variable is configured (and fails in Fetch)", err)
		}
		cred, err := src.Fetch(context.Background(), nil)
		if !errors.Is(err, apikey.ErrInvalidValue) || errors.Is(err, resolver.ErrNotConfigured) {
			t.Fatalf("Fetch(%q) = %v, %v; want ErrInvalidValue", v, cred, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "ANTHROPIC_AUTH_TOKEN contains a control character") || strings.Contains(msg, "sk-ant") {
			t.Errorf("error %q must name the variable and not show the value", msg)
		}
	}
}

// TestEnvChain: through a resolver, the first set variable in the default
// order wins, and with none set the error lists each variable.
func TestEnvChain(t *testing.T) {
	testenv.Hermetic(t)
	const (
		bearer = "gateway-bearer-token-0001"
		key    = "sk-ant-api03-chain-key-0002"
		oauth  = "sk-ant-oat01-chain-oauth-0003"
	)
	tests := []struct {
		set        map[string]string
		wantSource string
		wantHeader string
	}{
		{map[string]string{"ANTHROPIC_AUTH_TOKEN": bearer, "ANTHROPIC_API_KEY": key, "CLAUDE_CODE_OAUTH_TOKEN": oauth}, "auth-token", "Bearer " + bearer},
		{map[string]string{"ANTHROPIC_API_KEY": key, "CLAUDE_CODE_OAUTH_TOKEN": oauth}, "api-key", key},
		{map[string]string{"ANTHROPIC_AUTH_TOKEN": " ", "CLAUDE_CODE_OAUTH_TOKEN": oauth}, "oauth-token", "Bearer " + oauth},
	}
	for _, tc := range tests {
		r, err := resolver.New(context.Background(), resolver.Config{Sources: defaultEnvSources(mapEnv(tc.set))})
		if err != nil {
			t.Fatal(err)
		}
		cred, err := r.Resolve(context.Background())
		_ = r.Close()
		if err != nil {
			t.Fatalf("Resolve with %d variables set: %v", len(tc.set), err)
		}
		_, value, _ := cred.Header()
		if cred.Source != tc.wantSource || value != tc.wantHeader {
			t.Errorf("resolved %v, want source %s", cred, tc.wantSource)
		}
	}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: defaultEnvSources(mapEnv(nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Resolve(context.Background())
	if !errors.Is(err, resolver.ErrNoSource) {
		t.Fatalf("Resolve with nothing set = %v, want ErrNoSource", err)
	}
	for _, want := range []string{"auth-token: ANTHROPIC_AUTH_TOKEN is not set", "api-key: ANTHROPIC_API_KEY is not set", "oauth-token: CLAUDE_CODE_OAUTH_TOKEN is not set"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not list %q", err, want)
		}
	}
}
