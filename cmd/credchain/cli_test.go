package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source/all"
)

func TestMain(m *testing.M) {
	if f := os.Getenv(fakeBrowserEnv); f != "" {
		os.Exit(fakeBrowser(f, os.Args[len(os.Args)-1]))
	}
	code := m.Run()
	removeTestBuilds()
	os.Exit(code)
}

// key40 is a 40-character API key: status may show only ****+last 4.
const key40 = "sk-ant-api03-abcdefghijklmnopqrstuvwxWXYZ"

type result struct {
	out, err string
	code     int
}

// runCLI runs credchain in-process with an injected environment (the memory
// store unless env says otherwise) and stdin.
func runCLI(t *testing.T, env map[string]string, stdin io.Reader, args ...string) result {
	t.Helper()
	full := map[string]string{"CREDCHAIN_STORE_BACKEND": "memory", "PATH": os.Getenv("PATH")}
	for k, v := range env {
		full[k] = v
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errb bytes.Buffer
	code := testApp(full, stdin, &out, &errb).Run(context.Background(), args)
	return result{out.String(), errb.String(), code}
}

// testApp is an App whose environment is exactly env.
func testApp(env map[string]string, stdin io.Reader, out, errb io.Writer) *App {
	return &App{
		In: stdin, Out: out, Err: errb,
		Getenv:    func(k string) string { return env[k] },
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Environ: func() []string {
			var kv []string
			for k, v := range env {
				kv = append(kv, k+"="+v)
			}
			return kv
		},
	}
}

func TestTokenText(t *testing.T) {
	testenv.Hermetic(t)
	r := runCLI(t, map[string]string{"ANTHROPIC_API_KEY": key40}, nil, "token")
	if r.code != 0 || r.out != key40+"\n" || r.err != "" {
		t.Fatalf("got %+v", r)
	}
}

// TestTokenAsAPIKeyHelper: the helper source's key comes out alone, as
// Claude Code's apiKeyHelper needs.
func TestTokenFromHelper(t *testing.T) {
	testenv.Hermetic(t)
	r := runCLI(t, map[string]string{"CREDCHAIN_API_KEY_HELPER": "printf '%s\\n' helper-key-0123456789abcdef"}, nil, "token")
	if r.code != 0 || r.out != "helper-key-0123456789abcdef\n" {
		t.Fatalf("got %+v", r)
	}
}

func TestTokenJSON(t *testing.T) {
	testenv.Hermetic(t)
	r := runCLI(t, map[string]string{"ANTHROPIC_AUTH_TOKEN": "bearer-token-0123456789", "ANTHROPIC_API_KEY": key40}, nil, "token", "--format", "json")
	want := `{"source":"auth-token","kind":"bearer","token":"bearer-token-0123456789","expires_at":null}` + "\n"
	if r.code != 0 || r.out != want {
		t.Fatalf("got %+v\nwant %s", r, want)
	}
}

func TestJSONFormatShapes(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	tests := []struct {
		name string
		cred *resolver.Credential
		want string
	}{
		{"expiring bearer", &resolver.Credential{Kind: resolver.KindBearer, Token: resolver.NewSecret("t<&>"), Expiry: exp, Source: "oauth"},
			`{"source":"oauth","kind":"bearer","token":"t<&>","expires_at":"2030-01-02T02:04:05Z"}`},
		{"aws", &resolver.Credential{Kind: resolver.KindAWS, Source: "bedrock", Expiry: exp, AWS: &resolver.AWSKeys{
			AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: resolver.NewSecret("sec"), SessionToken: resolver.NewSecret("sess"), Region: "us-east-1"}},
			`{"source":"bedrock","kind":"aws","expires_at":"2030-01-02T02:04:05Z","access_key_id":"AKIAEXAMPLE","secret_access_key":"sec","session_token":"sess","region":"us-east-1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := jsonFormat().write(&b, tt.cred, formatContext{}); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSuffix(b.String(), "\n"); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	var b bytes.Buffer
	err := textFormat().write(&b, tests[1].cred, formatContext{})
	if err == nil || !strings.Contains(err.Error(), "--format json") || b.Len() != 0 {
		t.Errorf("text of an aws credential: %v %q", err, b.String())
	}
}

func TestTokenNothingConfigured(t *testing.T) {
	testenv.Hermetic(t)
	r := runCLI(t, nil, nil, "token")
	if r.code != exitNoSource || r.out != "" {
		t.Fatalf("got %+v", r)
	}
	for _, want := range []string{"credchain: no credential source is configured", "api-key: ANTHROPIC_API_KEY", "oauth-token-fd:"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr %q lacks %q", r.err, want)
		}
	}
}

func TestTokenFailingSourceIsExit1(t *testing.T) {
	testenv.Hermetic(t)
	r := runCLI(t, map[string]string{"CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR": "three", "CLAUDE_CODE_OAUTH_TOKEN": key40}, nil, "token")
	if r.code != exitError || r.out != "" || !strings.Contains(r.err, "credchain: api-key-fd") || strings.Contains(r.err, key40) {
		t.Fatalf("got %+v", r)
	}
}

func TestUsageErrors(t *testing.T) {
	testenv.Hermetic(t)
	missing := t.TempDir() + "/missing.yaml"
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown command", nil, []string{"tokn"}, `credchain: unknown command "tokn"; did you mean token?`},
		{"unknown flag", nil, []string{"--bogus"}, "credchain: unknown flag: --bogus"},
		{"unknown subcommand flag", nil, []string{"token", "--jsn"}, "credchain: unknown flag: --jsn"},
		{"extra argument", nil, []string{"token", "now"}, `credchain token takes no arguments, got "now"`},
		{"unknown format", nil, []string{"token", "--format", "yaml"}, `--format "yaml" is not known; use one of text, json`},
		{"exec without command", nil, []string{"exec"}, "exec needs a command to run"},
		{"bad setting in env", map[string]string{"CREDCHAIN_REFRESH_WINDOW": "5x"}, []string{"token"}, `credchain: $CREDCHAIN_REFRESH_WINDOW: refresh.window: invalid duration "5x"`},
		{"bad flag value", nil, []string{"--store-backend", "vault", "status"}, `credchain: --store-backend: store.backend: unknown store backend "vault"; allowed: auto`},
		{"missing --config", nil, []string{"--config", missing, "token"}, "credchain: --config: settings file " + missing + " does not exist"},
		{"logout unknown source", nil, []string{"logout", "--source", "nope"}, `--source "nope" is not in the chain`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.env, nil, tt.args...)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d (%+v)", r.code, exitUsage, r)
			}
			if !strings.Contains(r.err, tt.want) || !strings.Contains(r.err, "Run 'credchain --help' for usage.") {
				t.Errorf("stderr %q lacks %q", r.err, tt.want)
			}
		})
	}
}

func TestStatusHuman(t *testing.T) {
	testenv.Hermetic(t)
	r := runCLI(t, map[string]string{"ANTHROPIC_API_KEY": key40, "CLAUDE_CODE_OAUTH_TOKEN": "lower-token-0123456789ABCD"}, nil, "status")
	if r.code != 0 {
		t.Fatalf("got %+v", r)
	}
	if strings.Contains(r.out+r.err, key40) || strings.Contains(r.out, "lower-token") {
		t.Fatalf("status shows a secret:\n%s", r.out)
	}
	lines := strings.Split(r.out, "\n")
	if !strings.HasPrefix(lines[0], "SOURCE") {
		t.Errorf("header: %q", lines[0])
	}
	rows := map[string]string{}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = l
		}
	}
	for _, name := range config.DefaultChain(all.Sources()) {
		if rows[name] == "" {
			t.Errorf("no line for %s:\n%s", name, r.out)
		}
	}
	for name, want := range map[string][]string{
		"api-key":     {"active", "api_key", "****WXYZ", "never"},
		"oauth-token": {"configured", "shadowed by a higher source"},
		"auth-token":  {"not configured", "ANTHROPIC_AUTH_TOKEN is not set"},
		"store:":      {"memory"},
		"settings:":   {"none"},
	} {
		for _, w := range want {
			if !strings.Contains(rows[name], w) {
				t.Errorf("line %q lacks %q", rows[name], w)
			}
		}
	}
}

// statusJSON mirrors the documented --json shape.
type statusJSON struct {
	Active  *string `json:"active"`
	Sources []struct {
		Name       string            `json:"name"`
		Configured bool              `json:"configured"`
		Reason     string            `json:"reason"`
		Active     bool              `json:"active"`
		Kind       string            `json:"kind"`
		Secret     string            `json:"secret"`
		ExpiresAt  *string           `json:"expires_at"`
		State      string            `json:"state"`
		RefreshAt  *string           `json:"refresh_at"`
		NextRetry  *string           `json:"next_retry"`
		LastError  string            `json:"last_error"`
		Identity   string            `json:"identity"`
		StoreKey   string            `json:"store_key"`
		StoreError string            `json:"store_error"`
		Meta       map[string]string `json:"meta"`
	} `json:"sources"`
	Store struct {
		Backend string            `json:"backend"`
		Info    map[string]string `json:"info"`
	} `json:"store"`
	Error string `json:"error"`
}

func TestStatusJSON(t *testing.T) {
	testenv.Hermetic(t)
	r := runCLI(t, map[string]string{"ANTHROPIC_API_KEY": key40}, nil, "status", "--json")
	if r.code != 0 || strings.Contains(r.out, key40) {
		t.Fatalf("got %+v", r)
	}
	var st statusJSON
	dec := json.NewDecoder(strings.NewReader(r.out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("decode %s: %v", r.out, err)
	}
	if st.Active == nil || *st.Active != "api-key" || st.Store.Backend != "memory" || len(st.Sources) != len(config.DefaultChain(all.Sources())) {
		t.Fatalf("status %+v", st)
	}
	for i, s := range st.Sources {
		if s.Name != config.DefaultChain(all.Sources())[i] {
			t.Errorf("source %d is %s", i, s.Name)
		}
		if s.Name == "api-key" && (!s.Active || !s.Configured || s.Secret != "****WXYZ" || s.Kind != "api_key" || s.ExpiresAt != nil) {
			t.Errorf("api-key: %+v", s)
		}
		if s.Name == "auth-token" && (s.Configured || s.Reason == "") {
			t.Errorf("auth-token: %+v", s)
		}
	}
	// Every source carries expires_at, null when there is none.
	if n := strings.Count(r.out, `"expires_at": null`); n != len(config.DefaultChain(all.Sources())) {
		t.Errorf("%d expires_at nulls", n)
	}
}

func TestStatusNothingConfigured(t *testing.T) {
	testenv.Hermetic(t)
	r := runCLI(t, nil, nil, "status")
	if r.code != exitNoSource || !strings.Contains(r.out, "not configured") || !strings.Contains(r.err, "credchain: no credential source is configured") {
		t.Fatalf("got %+v", r)
	}
	r = runCLI(t, nil, nil, "status", "--json")
	var st statusJSON
	if err := json.Unmarshal([]byte(r.out), &st); err != nil {
		t.Fatal(err)
	}
	if r.code != exitNoSource || st.Active != nil || !strings.Contains(r.out, `"active": null`) || !strings.Contains(st.Error, "no credential source") {
		t.Fatalf("got %+v", r)
	}
}

func TestStatusFailingSource(t *testing.T) {
	testenv.Hermetic(t)
	r := runCLI(t, map[string]string{"CREDCHAIN_API_KEY_HELPER": "echo no key today >&2; exit 2", "CLAUDE_CODE_OAUTH_TOKEN": key40}, nil, "status")
	if r.code != exitError || strings.Contains(r.out+r.err, key40) {
		t.Fatalf("got %+v", r)
	}
	var line string
	for _, l := range strings.Split(r.out, "\n") {
		if strings.HasPrefix(l, "api-key-helper") {
			line = l
		}
	}
	if !strings.Contains(line, "failed") || !strings.Contains(line, "no key today") {
		t.Errorf("helper line %q", line)
	}
}

func TestExecEnvironment(t *testing.T) {
	testenv.Hermetic(t)
	script := `printf '%s|%s|%s|%s|%s|%s' "${ANTHROPIC_API_KEY-unset}" "${ANTHROPIC_AUTH_TOKEN-unset}" "${CLAUDE_CODE_OAUTH_TOKEN-unset}" ` +
		`"${CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR-unset}" "${MY_KEY-unset}" "${KEEP-unset}"`
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"api key", map[string]string{"ANTHROPIC_API_KEY": key40, "CLAUDE_CODE_OAUTH_TOKEN": "lower", "KEEP": "kept"},
			key40 + "|unset|unset|unset|unset|kept"},
		{"bearer", map[string]string{"ANTHROPIC_AUTH_TOKEN": "bearer-1", "ANTHROPIC_API_KEY": key40, "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR": "9"},
			"unset|bearer-1|unset|unset|unset|unset"},
		{"renamed variable", map[string]string{"CREDCHAIN_VARIABLES_API_KEY": "MY_KEY", "MY_KEY": key40},
			key40 + "|unset|unset|unset|unset|unset"},
		{"oauth token becomes the auth token", map[string]string{"CLAUDE_CODE_OAUTH_TOKEN": "oauth-1"},
			"unset|oauth-1|unset|unset|unset|unset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.env, nil, "exec", "--", "sh", "-c", script)
			if r.code != 0 || r.out != tt.want {
				t.Errorf("got %+v\nwant %s", r, tt.want)
			}
		})
	}
}

func TestExecStdinAndArgs(t *testing.T) {
	testenv.Hermetic(t)
	// Flags after the command are the command's, with or without "--".
	r := runCLI(t, map[string]string{"ANTHROPIC_API_KEY": key40}, strings.NewReader("from stdin"), "exec", "sh", "-c", `cat; echo " $0 $1"`, "--json", "x")
	if r.code != 0 || r.out != "from stdin --json x\n" {
		t.Fatalf("got %+v", r)
	}
}

func TestExecExitStatus(t *testing.T) {
	testenv.Hermetic(t)
	env := map[string]string{"ANTHROPIC_API_KEY": key40}
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"true"}, 0, ""},
		{[]string{"sh", "-c", "exit 7"}, 7, ""},
		{[]string{"sh", "-c", "kill -TERM $$"}, 128 + 15, ""},
		{[]string{"sh", "-c", "kill -KILL $$"}, 128 + 9, ""},
		{[]string{"no-such-command-credchain"}, 127, "credchain: exec: exec: \"no-such-command-credchain\": executable file not found"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCLI(t, env, nil, append([]string{"exec", "--"}, tt.args...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d (%+v)", r.code, tt.code, r)
			}
			if tt.err == "" && r.err != "" || !strings.Contains(r.err, tt.err) {
				t.Errorf("stderr %q, want %q", r.err, tt.err)
			}
		})
	}
	// Nothing configured: the command is not run.
	r := runCLI(t, nil, nil, "exec", "--", "sh", "-c", "echo ran")
	if r.code != exitNoSource || r.out != "" {
		t.Errorf("got %+v", r)
	}
}

func TestLogout(t *testing.T) {
	testenv.Hermetic(t)
	r := runCLI(t, nil, nil, "logout")
	if r.code != 0 || r.out != "nothing was stored\n" {
		t.Errorf("logout: %+v", r)
	}
	r = runCLI(t, nil, nil, "logout", "--json")
	if r.code != 0 || r.out != `{"removed":[]}`+"\n" {
		t.Errorf("logout --json: %+v", r)
	}
	r = runCLI(t, nil, nil, "logout", "--source", "api-key")
	if r.code != exitError || !strings.Contains(r.err, `credchain: logout: source "api-key" stores nothing`) {
		t.Errorf("logout --source api-key: %+v", r)
	}
}

func TestExitCodeMapping(t *testing.T) {
	login := &resolver.SourceError{Source: "oauth", Err: fmt.Errorf("refresh: %w", resolver.ErrLoginRequired)}
	tests := []struct {
		name string
		err  error
		code int
	}{
		{"nil", nil, 0},
		{"plain", errors.New("boom"), 1},
		{"usage", usageErrorf("bad"), 2},
		{"config", fmt.Errorf("load: %w", &config.Error{Key: "chain", Msg: "x"}), 2},
		{"no source", &resolver.NoSourceError{}, 3},
		{"no source, shown", &shownError{&resolver.NoSourceError{}, "x"}, 3},
		{"login required", login, 4},
		{"login required, wrapped", fmt.Errorf("token: %w", login), 4},
		{"child status", &exitStatus{code: 7}, 7},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.code {
			t.Errorf("%s: exit %d, want %d", tt.name, got, tt.code)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	testenv.Hermetic(t)
	r := runCLI(t, nil, nil, "--help")
	for _, want := range []string{"Exit codes:", "0  success", "2  usage", "3  no credential source is configured", "4  a login is required", "--non-interactive", "token", "status", "exec", "logout"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	if r.code != 0 {
		t.Errorf("--help exit %d", r.code)
	}
	r = runCLI(t, nil, nil)
	if r.code != 0 || !strings.Contains(r.out, "Exit codes:") {
		t.Errorf("no arguments: %+v", r)
	}
	r = runCLI(t, nil, nil, "--version")
	if r.code != 0 || !strings.HasPrefix(r.out, "credchain version ") {
		t.Errorf("--version: %+v", r)
	}
}

func TestInteractive(t *testing.T) {
	tests := []struct {
		tty  bool
		ci   string
		flag bool
		want bool
	}{
		{true, "", false, true},
		{true, "false", false, true},
		{true, "true", false, false},
		{true, "1", false, false},
		{true, "", true, false},
		{false, "", false, false},
	}
	for _, tt := range tests {
		a := &App{StdinTTY: tt.tty, nonInteractive: tt.flag, Getenv: func(k string) string {
			if k == "CI" {
				return tt.ci
			}
			return ""
		}}
		if got := a.Interactive(); got != tt.want {
			t.Errorf("tty=%v CI=%q --non-interactive=%v: Interactive = %v", tt.tty, tt.ci, tt.flag, got)
		}
	}
}

// TestTokenNeverOpensTheStore: with only environment sources configured, an
// unusable store (no D-Bus for the Secret Service) does not matter to
// token; status reports it unavailable, with the reason.
func TestTokenNeverOpensTheStore(t *testing.T) {
	testenv.Hermetic(t)
	env := map[string]string{"CREDCHAIN_STORE_BACKEND": "secret-service", "DBUS_SESSION_BUS_ADDRESS": "disabled:", "ANTHROPIC_API_KEY": key40}
	r := runCLI(t, env, nil, "token")
	if r.code != 0 || r.out != key40+"\n" || r.err != "" {
		t.Fatalf("token: %+v", r)
	}
	r = runCLI(t, env, nil, "status", "--json")
	var st statusJSON
	if err := json.Unmarshal([]byte(r.out), &st); err != nil {
		t.Fatal(err)
	}
	if r.code != 0 || st.Store.Backend != "secret-service (unavailable)" || st.Store.Info["error"] == "" {
		t.Errorf("status: %+v", st.Store)
	}
}
