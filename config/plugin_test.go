package config_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/internal/runner"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source"
	"github.com/credchain/credchain/source/all"
)

// vaultSettings are the settings of the example source, section vault.
type vaultSettings struct {
	Address string        `mapstructure:"address"`
	Mount   string        `mapstructure:"mount"`
	Enabled bool          `mapstructure:"enabled"`
	TTL     time.Duration `mapstructure:"ttl"`
}

// vaultSource is a source the config package has never heard of: it sends
// its token (read from a renameable variable) as a bearer, and signs its
// requests with a signer of its own.
type vaultSource struct {
	name  string
	token string
	opts  vaultSettings
}

func (v *vaultSource) Name() string { return v.name }

func (v *vaultSource) Fetch(context.Context, *resolver.Credential) (*resolver.Credential, error) {
	if v.token == "" {
		return nil, resolver.NotConfigured("no vault token")
	}
	return &resolver.Credential{Kind: resolver.KindAWS, AWS: &resolver.AWSKeys{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: resolver.NewSecret(v.token), Region: "us-east-1"}, Source: v.name}, nil
}

// headerSigner marks a request with the name of the signer that signed it.
type headerSigner string

func (h headerSigner) Sign(_ context.Context, req *http.Request, _ *resolver.Credential) error {
	req.Header.Set("X-Signed-By", string(h))
	return nil
}

// vaultDescriptor is the whole of what adding the example source takes: a
// descriptor (in its own package, in real life) and one line where the
// program lists its sources.
func vaultDescriptor(name string, order int) source.Descriptor {
	return source.Descriptor{
		Name: name, Order: order, Section: "vault",
		Settings: []source.Setting{
			{Key: "address", Default: "", Check: source.HTTPURL, Help: "Vault address"},
			{Key: "mount", Default: "secret", Check: source.OneOf("secret", "kv"), Help: "secrets engine"},
			{Key: "enabled", Default: false, Help: "use the source"},
			{Key: "ttl", Default: time.Minute, Check: source.Positive, FromVariable: "ttl_ms",
				ParseVariable: func(s string) (any, error) {
					d, err := time.ParseDuration(s + "ms")
					return d, err
				}, Help: "how long a token is used"},
		},
		Variables: []source.Variable{
			{Key: "vault_token", Name: "VAULT_TOKEN", Secret: true, Help: "the token"},
			{Key: "ttl_ms", Name: "VAULT_TTL_MS", Help: "default ttl"},
		},
		Enabled: func(in source.Input) bool {
			var o vaultSettings
			return in.Decode(&o) == nil && o.Enabled
		},
		New: func(_ context.Context, in source.Input) (resolver.Source, error) {
			var o vaultSettings
			if err := in.Decode(&o); err != nil {
				return nil, err
			}
			return &vaultSource{name: name, token: in.Getenv(in.Variable("vault_token")), opts: o}, nil
		},
		Signer:     func() resolver.Signer { return headerSigner(name) },
		SignerKind: resolver.KindAWS,
	}
}

func loadWith(env map[string]string, file string, sources ...source.Descriptor) (*config.Settings, error) {
	return config.Load(config.LoadOptions{File: file, Getenv: func(k string) string { return env[k] }, Sources: sources})
}

// loadVault loads settings for every source plus the example one, with
// its settings in a file and the environment.
func loadVault(t *testing.T) (*config.Settings, []source.Descriptor) {
	t.Helper()
	testenv.Hermetic(t)
	sources := append(all.Sources(), vaultDescriptor("vault", 305))
	file := writeConfig(t, "c.yaml", "vault:\n  address: https://vault.test:8200\nvariables:\n  vault_token: MY_VAULT_TOKEN\n")
	env := map[string]string{"CREDCHAIN_VAULT_ENABLED": "yes", "MY_VAULT_TOKEN": "s.0123456789abcdefWXYZ",
		"VAULT_TTL_MS": "1500", "CREDCHAIN_STORE_BACKEND": "memory"}
	s, err := loadWith(env, file, sources...)
	if err != nil {
		t.Fatal(err)
	}
	return s, sources
}

// TestNewSourceWithoutTouchingConfig adds a source config does not know, in
// a test, and checks the descriptor's settings are honoured: its place in
// the default chain, its settings (file, environment, defaults, variable
// default), Enabled, and its renameable secret variable.
func TestNewSourceWithoutTouchingConfig(t *testing.T) {
	s, _ := loadVault(t)
	want := []string{"bedrock", "vertex", "auth-token", "vault", "api-key"}
	got := slices.DeleteFunc(s.Chain(), func(n string) bool { return !slices.Contains(want, n) })
	if !slices.Equal(got, want) {
		t.Errorf("default chain %v, want it to start %v", got, want)
	}
	for key, want := range map[string]any{"vault.address": "https://vault.test:8200", "vault.mount": "secret", "vault.ttl": 1500 * time.Millisecond} {
		if got := s.Value(key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	if s.Origin("vault.ttl") != "$VAULT_TTL_MS" {
		t.Errorf("origin of vault.ttl = %s", s.Origin("vault.ttl"))
	}
	if on := s.EnabledSources(); !slices.Contains(on, "vault") {
		t.Errorf("EnabledSources = %v, want vault in it", on)
	}
	secret := s.SecretVariables()
	// runner.ScrubbedEnv, which every user command loses, must stay a part
	// of the one list credchain exec scrubs too.
	for _, v := range slices.Concat([]string{"MY_VAULT_TOKEN", "VAULT_TOKEN", "ANTHROPIC_API_KEY", "CREDCHAIN_API_KEY_HELPER", "CREDCHAIN_FILE_PASSWORD"}, runner.ScrubbedEnv) {
		if !slices.Contains(secret, v) {
			t.Errorf("SecretVariables() = %v, lacks %s", secret, v)
		}
	}
	if slices.Contains(secret, "VAULT_TTL_MS") {
		t.Errorf("SecretVariables() = %v: VAULT_TTL_MS is not secret", secret)
	}
}

// TestNewSourceIsBuiltAndSigns: Build makes the example source from its
// descriptor alone, and its signer signs its credentials only (bedrock
// signs kind aws too).
func TestNewSourceIsBuiltAndSigns(t *testing.T) {
	s, _ := loadVault(t)
	ctx := context.Background()
	cfg, err := s.Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(cfg.Sources, func(src resolver.Source) bool { return src.Name() == "vault" })
	if i < 0 {
		t.Fatalf("sources %v lack vault", cfg.Sources)
	}
	vs := cfg.Sources[i].(*vaultSource)
	if vs.token != "s.0123456789abcdefWXYZ" || vs.opts.Address != "https://vault.test:8200" || !vs.opts.Enabled || vs.opts.TTL != 1500*time.Millisecond {
		t.Errorf("vault built with %+v", vs.opts)
	}
	sg := cfg.Signers[resolver.KindAWS]
	req, _ := http.NewRequest(http.MethodGet, "https://api.test/", nil)
	if err := sg.Sign(ctx, req, &resolver.Credential{Kind: resolver.KindAWS, Source: "vault"}); err != nil || req.Header.Get("X-Signed-By") != "vault" {
		t.Errorf("vault's credential: signed by %q, error %v", req.Header.Get("X-Signed-By"), err)
	}
	req, _ = http.NewRequest(http.MethodGet, "https://api.test/", nil)
	if err := sg.Sign(ctx, req, &resolver.Credential{Kind: resolver.KindAWS, Source: "bedrock"}); err == nil || req.Header.Get("X-Signed-By") != "" {
		t.Errorf("bedrock's credential was signed by the vault signer (err %v)", err)
	}
}

// TestNewSourceKeysListed: Keys lists the example source's settings.
func TestNewSourceKeysListed(t *testing.T) {
	_, sources := loadVault(t)
	keys, err := config.Keys(sources...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(keys, func(k config.Key) bool {
		return k.Name == "vault.mount" && k.Env == "CREDCHAIN_VAULT_MOUNT" && k.Default == "secret" && slices.Equal(k.Sources, []string{"vault"})
	}) {
		t.Errorf("Keys() does not list vault.mount")
	}
}

// TestNewSourceSettingsAreValidated: the keys a source declares are checked
// like credchain's own, and without the source they are unknown.
func TestNewSourceSettingsAreValidated(t *testing.T) {
	testenv.Hermetic(t)
	withVault := append(all.Sources(), vaultDescriptor("vault", 305))
	tests := []struct {
		name    string
		sources []source.Descriptor
		file    string
		env     map[string]string
		want    string
	}{
		{"unknown key in its section", withVault, "vault:\n  adress: x\n", nil, "vault.adress: unknown key; allowed: address, mount, enabled, ttl"},
		{"its check", withVault, "vault:\n  mount: db\n", nil, `vault.mount: "db" is not allowed; allowed: secret, kv`},
		{"its type", withVault, "", map[string]string{"CREDCHAIN_VAULT_TTL": "soon"}, `$CREDCHAIN_VAULT_TTL: vault.ttl: invalid duration "soon"`},
		{"its variable default", withVault, "", map[string]string{"VAULT_TTL_MS": "x"}, `$VAULT_TTL_MS: vault.ttl:`},
		{"its variable name", withVault, "variables:\n  vault_token: 9X\n", nil, `variables.vault_token: "9X" is not an environment variable name`},
		{"section unknown without it", all.Sources(), "vault:\n  address: https://v.test\n", nil, "vault: unknown key; allowed: chain, refresh, store"},
		{"chain entry unknown without it", all.Sources(), "chain: [vault]\n", nil, `chain[0]: unknown source "vault"; allowed: gateway, bedrock`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := ""
			if tt.file != "" {
				file = writeConfig(t, "c.yaml", tt.file)
			}
			_, err := loadWith(tt.env, file, tt.sources...)
			if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load: %v, want an invalid-settings error containing %q", err, tt.want)
			}
		})
	}
}

// TestDescriptorConflicts: two sources of one name, or one key declared two
// ways, are a programming error reported by Load.
func TestDescriptorConflicts(t *testing.T) {
	other := vaultDescriptor("vault2", 306)
	other.Settings = slices.Clone(other.Settings)
	other.Settings[1].Default = "kv"
	for name, sources := range map[string][]source.Descriptor{
		"same name":          {vaultDescriptor("vault", 1), vaultDescriptor("vault", 2)},
		"key declared twice": {vaultDescriptor("vault", 1), other},
		"none":               nil,
	} {
		if _, err := loadWith(nil, "", sources...); err == nil {
			t.Errorf("%s: Load accepted the descriptors", name)
		}
	}
	// Declared alike, a key may be shared.
	if _, err := loadWith(map[string]string{"HOME": t.TempDir()}, "", vaultDescriptor("vault", 1), vaultDescriptor("vault2", 2)); err != nil {
		t.Errorf("shared key: %v", err)
	}
}

// TestOnlyTheGivenSources: an embedder that hands config two sources gets a
// chain of those two, whatever else the environment turns on.
func TestOnlyTheGivenSources(t *testing.T) {
	testenv.Hermetic(t)
	var sources []source.Descriptor
	for _, d := range all.Sources() {
		if d.Name == "api-key" || d.Name == "oauth" {
			sources = append(sources, d)
		}
	}
	s, err := loadWith(map[string]string{"CLAUDE_CODE_USE_BEDROCK": "1", "CREDCHAIN_STORE_BACKEND": "memory", "HOME": t.TempDir()}, "", sources...)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Build(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, src := range cfg.Sources {
		names = append(names, src.Name())
	}
	if !slices.Equal(names, []string{"api-key", "oauth"}) || cfg.Signers != nil {
		t.Errorf("sources %v signers %v, want api-key and oauth and no signer", names, cfg.Signers)
	}
}

func writeConfig(t *testing.T, name, content string) string {
	t.Helper()
	p := t.TempDir() + "/" + name
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
