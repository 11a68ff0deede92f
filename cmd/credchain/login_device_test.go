package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credchain/credchain/internal/testenv"
)

// fakeBrowserEnv, in the environment of the test binary, makes it a
// browser (see TestMain): it writes its environment to the file named
// there and loads the URL, following the provider's redirect to the
// login's loopback callback.
const fakeBrowserEnv = "CREDCHAIN_TEST_FAKE_BROWSER"

func fakeBrowser(envFile, url string) int {
	if err := os.WriteFile(envFile, []byte(strings.Join(os.Environ(), "\n")), 0o600); err != nil {
		return 1
	}
	if _, _, err := testenv.Browse(url); err != nil {
		return 1
	}
	return 0
}

// runLogin runs credchain in-process like runCLI, with the oauth settings of
// op, a plaintext store in dir, and stdin a terminal or not.
func runLogin(t *testing.T, op *testenv.OIDCProvider, dir string, tty bool, env map[string]string, args ...string) result {
	t.Helper()
	full := map[string]string{
		"PATH":                      os.Getenv("PATH"),
		"HOME":                      dir,
		"CREDCHAIN_STORE_BACKEND":   "plaintext",
		"CREDCHAIN_STORE_DIR":       filepath.Join(dir, "store"),
		"CREDCHAIN_OAUTH_ISSUER":    op.Issuer,
		"CREDCHAIN_OAUTH_CLIENT_ID": op.ClientID,
		"CREDCHAIN_OAUTH_REDIRECT":  "loopback",
		"DISPLAY":                   ":0", // a desktop unless the test says otherwise
	}
	for k, v := range env {
		if v == "" {
			delete(full, k)
			continue
		}
		full[k] = v
	}
	var out, errb bytes.Buffer
	a := testApp(full, strings.NewReader(""), &out, &errb)
	a.StdinTTY = tty
	code := a.Run(context.Background(), args)
	return result{out.String(), errb.String(), code}
}

// approveNext approves the next device login at op, as the person with the
// user code would.
func approveNext(t *testing.T, op *testenv.OIDCProvider) {
	t.Helper()
	go func() {
		uc := <-op.UserCodes()
		if err := op.ApproveDevice(uc, true); err != nil {
			t.Error(err)
		}
	}()
}

// TestLoginDeviceFlag: `credchain login --device` prints the verification
// URI and user code, polls until approved, and stores a login that status
// then shows; it needs no terminal input.
func TestLoginDeviceFlag(t *testing.T) {
	testenv.Hermetic(t)
	op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{Device: true})
	dir := t.TempDir()
	approveNext(t, op)
	res := runLogin(t, op, dir, false, nil, "login", "--device")
	if res.code != 0 {
		t.Fatalf("login --device: exit %d\n%s\n%s", res.code, res.out, res.err)
	}
	for _, w := range []string{op.Issuer + "/device", "enter the code:", "/device?user_code="} {
		if !strings.Contains(res.err, w) {
			t.Errorf("stderr lacks %q:\n%s", w, res.err)
		}
	}
	if !strings.Contains(res.out, "Logged in as pat@example.com") || !strings.Contains(res.out, "refreshes it before then") {
		t.Errorf("stdout %q", res.out)
	}
	st := runLogin(t, op, dir, false, nil, "status")
	if st.code != 0 || !strings.Contains(st.out, "oauth") || !strings.Contains(st.out, "active") {
		t.Errorf("status after a device login: exit %d\n%s%s", st.code, st.out, st.err)
	}
}

// TestLoginChoosesDeviceWithoutBrowser: over SSH without a display and
// without $BROWSER, login picks the device grant when the provider has a
// device endpoint, and says so; --device=false and a provider without one
// keep the browser flow.
func TestLoginChoosesDeviceWithoutBrowser(t *testing.T) {
	testenv.Hermetic(t)
	ssh := map[string]string{"SSH_CONNECTION": "10.0.0.1 50000 10.0.0.2 22", "DISPLAY": ""}
	op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{Device: true})
	approveNext(t, op)
	res := runLogin(t, op, t.TempDir(), true, ssh, "login")
	if res.code != 0 || !strings.Contains(res.err, "No browser can be opened here (an SSH session without a display, and no $BROWSER)") || !strings.Contains(res.err, "enter the code:") {
		t.Fatalf("login over SSH: exit %d\n%s", res.code, res.err)
	}
	for _, tc := range []struct {
		name string
		op   testenv.OIDCOptions
		args []string
	}{
		{"--device=false", testenv.OIDCOptions{Device: true}, []string{"login", "--device=false", "--timeout", "1s"}},
		{"no device endpoint", testenv.OIDCOptions{}, []string{"login", "--timeout", "1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := testenv.StartOIDCProvider(t, tc.op)
			res := runLogin(t, op, t.TempDir(), true, ssh, tc.args...)
			if res.code == 0 || !strings.Contains(res.err, "open this URL in a browser") || strings.Contains(res.err, "enter the code") {
				t.Errorf("exit %d, stderr:\n%s\nwant the browser flow (timing out)", res.code, res.err)
			}
		})
	}
}

// TestNoBrowserHere: when a browser can be opened on this machine.
func TestNoBrowserHere(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"BROWSER": "firefox", "SSH_CONNECTION": "x"}, ""},
		{map[string]string{"SSH_CONNECTION": "x", "DISPLAY": ":10"}, ""},
		{map[string]string{"SSH_TTY": "/dev/pts/1"}, "SSH session"},
		{map[string]string{"DISPLAY": ":0"}, ""},
		{map[string]string{"WAYLAND_DISPLAY": "wayland-0"}, ""},
	} {
		a := &App{Getenv: func(k string) string { return tc.env[k] }}
		if got := a.noBrowserHere(); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("env %v: %q, want %q", tc.env, got, tc.want)
		}
	}
}

// TestLoginBrowserEnvAndMissingRefreshToken: $BROWSER runs without
// credchain's own secrets in its environment; against a provider that
// grants offline_access only with prompt=consent, with the prompt turned
// off, login says why there is no refresh token and status shows until
// when the login works.
func TestLoginBrowserEnvAndMissingRefreshToken(t *testing.T) {
	testenv.Hermetic(t)
	op := testenv.StartOIDCProvider(t, testenv.OIDCOptions{StrictConsent: true})
	dir := t.TempDir()
	envFile := filepath.Join(dir, "browser-env")
	t.Setenv(fakeBrowserEnv, envFile)
	env := map[string]string{
		"BROWSER":                           os.Args[0],
		fakeBrowserEnv:                      envFile,
		"CREDCHAIN_FILE_PASSWORD":           "file-store-password-SECRET",
		"CREDCHAIN_API_KEY_HELPER":          "echo helper-key-SECRET",
		"ANTHROPIC_API_KEY":                 "sk-ant-SECRET",
		"CREDCHAIN_OAUTH_NO_CONSENT_PROMPT": "true",
		"CREDCHAIN_CHAIN":                   "oauth",
	}
	// The process environment too, so a browser that inherited it instead
	// of getting the scrubbed App environment would show them.
	for _, k := range []string{"CREDCHAIN_FILE_PASSWORD", "CREDCHAIN_API_KEY_HELPER", "ANTHROPIC_API_KEY"} {
		t.Setenv(k, env[k])
	}
	res := runLogin(t, op, dir, false, env, "login")
	if res.code != 0 {
		t.Fatalf("login: exit %d\n%s\n%s", res.code, res.out, res.err)
	}
	got, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatalf("$BROWSER did not run: %v", err)
	}
	if strings.Contains(string(got), "SECRET") || !strings.Contains(string(got), "PATH=") {
		t.Errorf("$BROWSER's environment:\n%s\nwant PATH and none of credchain's secrets", got)
	}
	if !strings.Contains(res.out, "issued no refresh token") || !strings.Contains(res.out, "oauth.no_consent_prompt") {
		t.Errorf("login output %q: want why there is no refresh token", res.out)
	}
	st := runLogin(t, op, dir, false, map[string]string{"CREDCHAIN_CHAIN": "oauth"}, "status")
	if !strings.Contains(st.out, "refresh=no refresh token: expires at ") || !strings.Contains(st.out, ", then login required") {
		t.Errorf("status:\n%s%s\nwant the no-refresh-token line", st.out, st.err)
	}
}
