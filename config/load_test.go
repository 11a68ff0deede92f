package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/source/all"
)

// mapEnv is an injected environment.
type mapEnv map[string]string

func (m mapEnv) lookup(k string) (string, bool) { v, ok := m[k]; return v, ok }
func (m mapEnv) getenv(k string) string         { return m[k] }

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Source names of the sources in all.Sources(), in default chain order.
const (
	SourceBedrock      = "bedrock"
	SourceVertex       = "vertex"
	SourceAuthToken    = "auth-token"
	SourceAPIKey       = "api-key"
	SourceAPIKeyFD     = "api-key-fd"
	SourceAPIKeyHelper = "api-key-helper"
	SourceOAuthToken   = "oauth-token"
	SourceOAuthTokenFD = "oauth-token-fd"
	SourceOAuth        = "oauth"
)

// load loads the settings of every source.
func load(t *testing.T, env mapEnv, file string, flags *pflag.FlagSet) (*Settings, error) {
	t.Helper()
	return Load(LoadOptions{File: file, Flags: flags, Getenv: env.getenv, LookupEnv: env.lookup, Sources: all.Sources()})
}

// value is the setting key of s, of type T.
func value[T any](t *testing.T, s *Settings, key string) T {
	t.Helper()
	v, ok := s.Value(key).(T)
	if !ok {
		t.Fatalf("setting %s = %#v, not a %T", key, s.Value(key), v)
	}
	return v
}

// storeFlags is the CLI's flag set for the store settings.
func storeFlags(t *testing.T) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.String("store-backend", "", "")
	fs.String("store-dir", "", "")
	fs.Duration("window", 0, "")
	for flag, key := range map[string]string{"store-backend": "store.backend", "store-dir": "store.dir", "window": "refresh.window"} {
		if err := BindFlag(fs, flag, key); err != nil {
			t.Fatal(err)
		}
	}
	return fs
}

func TestLoadDefaults(t *testing.T) {
	testenv.Hermetic(t)
	s, err := load(t, mapEnv{"HOME": t.TempDir()}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Chain(), DefaultChain(all.Sources())) {
		t.Errorf("chain = %v, want %v", s.Chain(), DefaultChain(all.Sources()))
	}
	ttl, timeout := value[time.Duration](t, s, "api_key_helper_ttl"), value[time.Duration](t, s, "api_key_helper_timeout")
	if s.Refresh.Window != 5*time.Minute || ttl != 5*time.Minute || timeout != 10*time.Minute {
		t.Errorf("durations = %v %v %v", s.Refresh.Window, ttl, timeout)
	}
	apiKey, fd := value[string](t, s, "variables.api_key"), value[string](t, s, "variables.oauth_token_fd")
	if s.Store.Backend != "auto" || apiKey != "ANTHROPIC_API_KEY" || fd != "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR" {
		t.Errorf("defaults: %+v %q %q", s.Store, apiKey, fd)
	}
	if s.File() != "" || s.Origin("chain") != "default" {
		t.Errorf("file %q origin %q", s.File(), s.Origin("chain"))
	}
}

func TestDefaultFileIsRead(t *testing.T) {
	testenv.Hermetic(t)
	home := t.TempDir()
	p := writeFile(t, home, ".config/credchain/config.yaml", "refresh:\n  window: 90s\n")
	for name, env := range map[string]mapEnv{
		"XDG_CONFIG_HOME": {"XDG_CONFIG_HOME": filepath.Join(home, ".config")},
		"HOME":            {"HOME": home},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := load(t, env, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if s.File() != p || s.Refresh.Window != 90*time.Second || s.Origin("refresh.window") != p {
				t.Errorf("file %q window %v origin %q", s.File(), s.Refresh.Window, s.Origin("refresh.window"))
			}
		})
	}
}

func TestPrecedenceFlagsEnvFile(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "c.yaml", "store:\n  backend: plaintext\n  dir: /from/file\nrefresh:\n  window: 1m\n")
	tests := []struct {
		name        string
		env         mapEnv
		args        []string
		wantBackend string
		wantDir     string
		wantWindow  time.Duration
		wantOrigin  string
	}{
		{"file only", mapEnv{}, nil, "plaintext", "/from/file", time.Minute, file},
		{"env over file", mapEnv{"CREDCHAIN_STORE_BACKEND": "memory", "CREDCHAIN_REFRESH_WINDOW": "2m"}, nil, "memory", "/from/file", 2 * time.Minute, "$CREDCHAIN_STORE_BACKEND"},
		{"flag over env", mapEnv{"CREDCHAIN_STORE_BACKEND": "memory", "CREDCHAIN_STORE_DIR": "/from/env"}, []string{"--store-backend=file", "--window=3m"}, "file", "/from/env", 3 * time.Minute, "--store-backend"},
		{"flag over file", mapEnv{}, []string{"--store-dir", "/from/flag"}, "plaintext", "/from/flag", time.Minute, file},
		{"empty env is unset", mapEnv{"CREDCHAIN_STORE_BACKEND": ""}, nil, "plaintext", "/from/file", time.Minute, file},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := storeFlags(t)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			s, err := load(t, tt.env, file, fs)
			if err != nil {
				t.Fatal(err)
			}
			if s.Store.Backend != tt.wantBackend || s.Store.Dir != tt.wantDir || s.Refresh.Window != tt.wantWindow {
				t.Errorf("got backend %q dir %q window %v; want %q %q %v", s.Store.Backend, s.Store.Dir, s.Refresh.Window, tt.wantBackend, tt.wantDir, tt.wantWindow)
			}
			if got := s.Origin("store.backend"); got != tt.wantOrigin {
				t.Errorf("origin of store.backend = %q, want %q", got, tt.wantOrigin)
			}
			if opts := s.StoreOptions(); opts.Backend != tt.wantBackend || opts.Dir != tt.wantDir || opts.FilePassword == nil {
				t.Errorf("StoreOptions = %+v", opts)
			}
		})
	}
}

func TestEnvironmentValues(t *testing.T) {
	testenv.Hermetic(t)
	s, err := load(t, mapEnv{
		"CREDCHAIN_CHAIN":                    "api-key, oauth  auth-token",
		"CREDCHAIN_OAUTH_SCOPES":             "openid,email profile",
		"CREDCHAIN_GIT_HOSTS":                "git.example.test,other.test",
		"CREDCHAIN_DOCKER_SERVERS":           "registry.test",
		"CREDCHAIN_API_KEY_HELPER":           "printf %s key",
		"CREDCHAIN_OAUTH_CALLBACK_PORT":      "8765",
		"CREDCHAIN_AWS_ENABLED":              "yes",
		"CREDCHAIN_OAUTH_AUTHORIZE_PARAMS":   "prompt=consent,orgUUID=Ab",
		"CREDCHAIN_VARIABLES_API_KEY":        "MY_KEY",
		"CREDCHAIN_API_KEY_HELPER_TIMEOUT":   "30s",
		"CREDCHAIN_GCP_AUTH_REFRESH":         "gcloud auth application-default login",
		"CREDCHAIN_AWS_CREDENTIAL_EXPORT":    "export-creds",
		"CREDCHAIN_STORE_KEYCTL_SCOPE":       "process",
		"CREDCHAIN_OAUTH_PASTE_REDIRECT_URI": "urn:ietf:wg:oauth:2.0:oob",
	}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"chain", s.Chain(), []string{"api-key", "oauth", "auth-token"}},
		{"scopes", value[[]string](t, s, "oauth.scopes"), []string{"openid", "email", "profile"}},
		{"git hosts", s.Git.Hosts, []string{"git.example.test", "other.test"}},
		{"docker", s.Docker.Servers, []string{"registry.test"}},
	}
	for _, c := range checks {
		if !slices.Equal(c.got.([]string), c.want.([]string)) {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if value[string](t, s, "api_key_helper") != "printf %s key" || value[int](t, s, "oauth.callback_port") != 8765 ||
		!value[bool](t, s, "aws.enabled") || value[string](t, s, "variables.api_key") != "MY_KEY" ||
		value[time.Duration](t, s, "api_key_helper_timeout") != 30*time.Second || value[string](t, s, "gcp.auth_refresh") == "" ||
		value[string](t, s, "aws.credential_export") != "export-creds" ||
		s.Store.KeyCtlScope != "process" || value[string](t, s, "oauth.paste_redirect_uri") == "" {
		t.Errorf("settings: %+v", s.values)
	}
	if p := value[map[string]string](t, s, "oauth.authorize_params"); p["orgUUID"] != "Ab" || p["prompt"] != "consent" {
		t.Errorf("authorize params = %v", p)
	}
}

func TestAuthorizeParamsKeepCase(t *testing.T) {
	testenv.Hermetic(t)
	file := writeFile(t, t.TempDir(), "c.yaml", "oauth:\n  authorize_params:\n    orgUUID: X1\n    login_hint: a@b.test\n")
	s, err := load(t, mapEnv{}, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := value[map[string]string](t, s, "oauth.authorize_params"); p["orgUUID"] != "X1" || p["login_hint"] != "a@b.test" {
		t.Errorf("authorize params = %v", p)
	}
	// The environment replaces the file's map as a whole.
	s, err = load(t, mapEnv{"CREDCHAIN_OAUTH_AUTHORIZE_PARAMS": "a=1"}, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := value[map[string]string](t, s, "oauth.authorize_params"); len(p) != 1 || p["a"] != "1" {
		t.Errorf("authorize params = %v", p)
	}
}

func TestClaudeCodeSettingsJSON(t *testing.T) {
	testenv.Hermetic(t)
	file := writeFile(t, t.TempDir(), "settings.json", `{
  "$schema": "https://json.schemastore.org/claude-code-settings.json",
  "apiKeyHelper": "~/bin/get-key.sh",
  "awsAuthRefresh": "aws sso login --profile dev",
  "awsCredentialExport": "/bin/export-creds",
  "gcpAuthRefresh": "gcloud auth application-default login",
  "env": {"ANTHROPIC_MODEL": "x", "CLAUDE_CODE_USE_BEDROCK": "1"},
  "permissions": {"allow": ["Bash(ls:*)"], "deny": []},
  "model": "opus",
  "hooks": {"PreToolUse": []},
  "statusLine": {"type": "command", "command": "x"}
}`)
	s, err := load(t, mapEnv{}, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	helper, awsRefresh := value[string](t, s, "api_key_helper"), value[string](t, s, "aws.auth_refresh")
	export, gcpRefresh := value[string](t, s, "aws.credential_export"), value[string](t, s, "gcp.auth_refresh")
	if helper != "~/bin/get-key.sh" || awsRefresh != "aws sso login --profile dev" ||
		export != "/bin/export-creds" || gcpRefresh != "gcloud auth application-default login" {
		t.Errorf("aliases not applied: helper %q aws %q export %q gcp %q", helper, awsRefresh, export, gcpRefresh)
	}
	if s.Origin("api_key_helper") != file {
		t.Errorf("origin = %q", s.Origin("api_key_helper"))
	}
	// The environment still overrides an aliased key.
	s, err = load(t, mapEnv{"CREDCHAIN_API_KEY_HELPER": "other"}, file, nil)
	if err != nil || s.Value("api_key_helper") != "other" {
		t.Errorf("env over alias: %v", err)
	}
}

func TestHelperTTLDefault(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	tests := []struct {
		name string
		env  mapEnv
		file string
		want time.Duration
	}{
		{"default", mapEnv{}, "", 5 * time.Minute},
		{"claude variable", mapEnv{"CLAUDE_CODE_API_KEY_HELPER_TTL_MS": "1500"}, "", 1500 * time.Millisecond},
		{"setting wins", mapEnv{"CLAUDE_CODE_API_KEY_HELPER_TTL_MS": "1500"}, "api_key_helper_ttl: 1m\n", time.Minute},
		{"renamed variable", mapEnv{"MY_TTL": "2000", "CLAUDE_CODE_API_KEY_HELPER_TTL_MS": "1500"}, "variables:\n  api_key_helper_ttl_ms: MY_TTL\n", 2 * time.Second},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := ""
			if tt.file != "" {
				file = writeFile(t, dir, strings.Repeat("x", i+1)+".yaml", tt.file)
			}
			s, err := load(t, tt.env, file, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := value[time.Duration](t, s, "api_key_helper_ttl"); got != tt.want {
				t.Errorf("ttl = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestLoadErrors checks that every kind of bad setting is refused with an
// error naming where it came from, the key, and what is allowed.
func TestLoadErrors(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	tests := []struct {
		name  string
		file  string // file name and content separated by "\n---\n"; "" for none
		env   mapEnv
		args  []string
		wants []string // substrings of the error
	}{
		{"unknown top-level key", "config.yaml\n---\nchian: [api-key]\n", nil, nil,
			[]string{"config.yaml: chian: unknown key; allowed: chain, refresh, store, api_key_helper", "apiKeyHelper"}},
		{"unknown nested key", "config.yaml\n---\nstore:\n  backnd: memory\n", nil, nil,
			[]string{"config.yaml: store.backnd: unknown key; allowed: backend, dir, service, timeout, keyctl_scope"}},
		{"unknown key in JSON", "settings.json\n---\n{\"apiKeyHelperr\": \"x\"}", nil, nil,
			[]string{"settings.json: apiKeyHelperr: unknown key; allowed:"}},
		{"section is not a mapping", "config.yaml\n---\nstore: memory\n", nil, nil,
			[]string{"config.yaml: store: must be a mapping with keys; allowed: backend, dir"}},
		{"wrong type: number for a duration", "config.yaml\n---\nrefresh:\n  window: 300\n", nil, nil,
			[]string{"config.yaml: refresh.window: must be a duration with a unit (e.g. 90s, 5m, 1h), not the number 300"}},
		{"wrong type: mapping for a list", "config.yaml\n---\nchain: {a: b}\n", nil, nil,
			[]string{"config.yaml: chain: must be a list of strings"}},
		{"wrong type: number for a string", "config.yaml\n---\noauth:\n  client_id: 12345\n", nil, nil,
			[]string{"config.yaml: oauth.client_id: must be a string, not the number 12345"}},
		{"wrong type in JSON", "c.json\n---\n{\"oauth\": {\"callback_port\": \"eighty\"}}", nil, nil,
			[]string{"c.json: oauth.callback_port: must be an integer"}},
		{"bad duration in file", "config.yaml\n---\napi_key_helper_timeout: 5x\n", nil, nil,
			[]string{"config.yaml: api_key_helper_timeout: invalid duration \"5x\""}},
		{"bad duration in env", "", mapEnv{"CREDCHAIN_REFRESH_WINDOW": "soon"}, nil,
			[]string{"$CREDCHAIN_REFRESH_WINDOW: refresh.window: invalid duration \"soon\""}},
		{"zero window", "", mapEnv{"CREDCHAIN_REFRESH_WINDOW": "0s"}, nil,
			[]string{"$CREDCHAIN_REFRESH_WINDOW: refresh.window: must be greater than zero"}},
		{"bad flag value", "", nil, []string{"--store-backend", "keyring"},
			[]string{"--store-backend: store.backend: unknown store backend \"keyring\"; allowed: auto,", "plaintext, memory"}},
		{"bad backend in file", "config.yaml\n---\nstore: {backend: vault}\n", nil, nil,
			[]string{"config.yaml: store.backend: unknown store backend \"vault\"; allowed: auto"}},
		{"unknown chain source", "config.yaml\n---\nchain: [bedrock, vertex, auth-token, api-keys]\n", nil, nil,
			[]string{`config.yaml: chain[3]: unknown source "api-keys"; allowed: gateway, bedrock, foundry, anthropic-aws, mantle, vertex, auth-token, api-key, api-key-fd, api-key-helper, oauth-token, oauth-token-fd, federation, oauth`}},
		{"duplicate chain source", "config.yaml\n---\nchain: [api-key, oauth, api-key]\n", nil, nil,
			[]string{`config.yaml: chain[2]: source "api-key" appears twice (also chain[0])`}},
		{"duplicate chain source in env", "", mapEnv{"CREDCHAIN_CHAIN": "oauth,oauth"}, nil,
			[]string{`$CREDCHAIN_CHAIN: chain[1]: source "oauth" appears twice`}},
		{"empty chain", "config.yaml\n---\nchain: []\n", nil, nil,
			[]string{"config.yaml: chain: must name at least one source; allowed: gateway, bedrock"}},
		{"chain item not a string", "config.yaml\n---\nchain: [api-key, 7]\n", nil, nil,
			[]string{"config.yaml: chain: item 1 must be a string, not the number 7"}},
		{"enum", "config.yaml\n---\noauth:\n  redirect: browser\n", nil, nil,
			[]string{`config.yaml: oauth.redirect: "browser" is not allowed; allowed: auto, loopback, paste`}},
		{"bad URL", "config.yaml\n---\noauth:\n  issuer: dex.local\n", nil, nil,
			[]string{`config.yaml: oauth.issuer: "dex.local" is not an absolute http(s) URL`}},
		{"bad variable name", "config.yaml\n---\nvariables:\n  api_key: 1KEY\n", nil, nil,
			[]string{`config.yaml: variables.api_key: "1KEY" is not an environment variable name`}},
		{"bad port", "", mapEnv{"CREDCHAIN_OAUTH_CALLBACK_PORT": "70000"}, nil,
			[]string{"$CREDCHAIN_OAUTH_CALLBACK_PORT: oauth.callback_port: port 70000 is out of range"}},
		{"bad boolean", "", mapEnv{"CREDCHAIN_GCP_ENABLED": "maybe"}, nil,
			[]string{`$CREDCHAIN_GCP_ENABLED: gcp.enabled: must be true or false`}},
		{"alias and key both set", "settings.json\n---\n{\"apiKeyHelper\": \"a\", \"api_key_helper\": \"b\"}", nil, nil,
			[]string{"settings.json: api_key_helper: set twice (also as apiKeyHelper); keep one"}},
		{"bad helper TTL variable", "", mapEnv{"CLAUDE_CODE_API_KEY_HELPER_TTL_MS": "-5"}, nil,
			[]string{"$CLAUDE_CODE_API_KEY_HELPER_TTL_MS: api_key_helper_ttl:"}},
		{"unknown file type", "config.toml\n---\nchain = []\n", nil, nil,
			[]string{`config.toml: unknown settings file type ".toml"; allowed: .yaml, .yml, .json`}},
		{"invalid YAML", "config.yaml\n---\nchain: [a\n", nil, nil,
			[]string{"config.yaml: not valid YAML"}},
		{"invalid JSON", "c.json\n---\n{\n  \"chain\": [\"api-key\",]\n}", nil, nil,
			[]string{"c.json: not a valid JSON object: line 2:"}},
		{"several problems are all reported", "config.yaml\n---\nfoo: 1\nrefresh: {window: x}\n", nil, nil,
			[]string{"config.yaml: foo: unknown key", "config.yaml: refresh.window: invalid duration"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := ""
			if tt.file != "" {
				name, content, _ := strings.Cut(tt.file, "\n---\n")
				file = writeFile(t, filepath.Join(dir, strings.Repeat("d", i+1)), name, content)
			}
			env := tt.env
			if env == nil {
				env = mapEnv{}
			}
			fs := storeFlags(t)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			_, err := load(t, env, file, fs)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			msg := strings.ReplaceAll(err.Error(), filepath.Dir(file)+string(filepath.Separator), "")
			for _, want := range tt.wants {
				if !strings.Contains(msg, want) {
					t.Errorf("error\n  %s\ndoes not contain\n  %s", msg, want)
				}
			}
		})
	}
}

func TestExplicitFileMustExist(t *testing.T) {
	testenv.Hermetic(t)
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := load(t, mapEnv{}, missing, nil)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "--config: settings file "+missing+" does not exist") {
		t.Errorf("--config: %v", err)
	}
	_, err = load(t, mapEnv{"CREDCHAIN_CONFIG": missing}, "", nil)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "$CREDCHAIN_CONFIG: settings file "+missing+" does not exist") {
		t.Errorf("CREDCHAIN_CONFIG: %v", err)
	}
	// --config wins over CREDCHAIN_CONFIG.
	good := writeFile(t, t.TempDir(), "c.yml", "store: {backend: memory}\n")
	s, err := load(t, mapEnv{"CREDCHAIN_CONFIG": missing}, good, nil)
	if err != nil || s.Store.Backend != "memory" {
		t.Errorf("--config over CREDCHAIN_CONFIG: %v", err)
	}
}

func TestBindFlagRefusesUnknownSetting(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.String("f", "", "")
	if err := BindFlag(fs, "f", "store.nope"); err == nil {
		t.Error("BindFlag accepted an unknown setting")
	}
	if err := BindFlag(fs, "g", "store.dir"); err == nil {
		t.Error("BindFlag accepted an unknown flag")
	}
}

func TestKeysAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatalf("docs/configuration.md: %v", err)
	}
	seen := map[string]string{}
	keys, err := Keys(all.Sources()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if prev, dup := seen[k.Env]; dup {
			t.Errorf("keys %s and %s share the variable %s", prev, k.Name, k.Env)
		}
		seen[k.Env] = k.Name
		for _, s := range []string{"`" + k.Name + "`", "`" + k.Env + "`"} {
			if !strings.Contains(string(doc), s) {
				t.Errorf("docs/configuration.md does not mention %s", s)
			}
		}
		if k.Alias != "" && !strings.Contains(string(doc), "`"+k.Alias+"`") {
			t.Errorf("docs/configuration.md does not mention the alias %s", k.Alias)
		}
	}
	for _, k := range ClaudeCodeIgnoredKeys() {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/configuration.md does not list the ignored Claude Code key %s", k)
		}
	}
}

// TestErrorsCarryNoSecret: a secret pasted into the wrong setting is not
// echoed back in full.
func TestErrorsCarryNoSecret(t *testing.T) {
	testenv.Hermetic(t)
	const secret = "sk-ant-api03-abcdefghijklmnopqrstuvwxWXYZ"
	for _, key := range []string{"CREDCHAIN_VARIABLES_API_KEY", "CREDCHAIN_REFRESH_WINDOW", "CREDCHAIN_CHAIN", "CREDCHAIN_STORE_BACKEND",
		"CREDCHAIN_OAUTH_CALLBACK_PORT", "CREDCHAIN_OAUTH_AUTHORIZE_PARAMS", "CREDCHAIN_AWS_ENABLED"} {
		_, err := load(t, mapEnv{key: secret}, "", nil)
		if err == nil {
			t.Errorf("%s: no error", key)
			continue
		}
		if strings.Contains(err.Error(), secret[:20]) || !strings.Contains(err.Error(), `ending in "WXYZ"`) {
			t.Errorf("%s: %v", key, err)
		}
	}
}
