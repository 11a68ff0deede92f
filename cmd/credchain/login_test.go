//go:build unix && integration

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// These tests run `credchain login` and `credchain token` as real processes
// against a real Dex, with a plaintext store in a shared directory.

// loginEnv is the environment of a credchain child logging in to d: oauth
// settings, a plaintext store in storeDir, no CI, and $BROWSER set to
// browser (if not empty).
func loginEnv(t *testing.T, d *itest.Dex, storeDir, browser string, extra ...string) []string {
	t.Helper()
	home := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"DBUS_SESSION_BUS_ADDRESS=disabled:",
		"CREDCHAIN_STORE_BACKEND=plaintext",
		"CREDCHAIN_STORE_DIR=" + storeDir,
		"CREDCHAIN_OAUTH_ISSUER=" + d.Issuer,
		"CREDCHAIN_OAUTH_CLIENT_ID=" + d.ClientID,
		"CREDCHAIN_OAUTH_SCOPES=openid,email offline_access",
		"CREDCHAIN_OAUTH_REDIRECT=loopback",
	}
	if browser != "" {
		env = append(env, "BROWSER="+browser)
	}
	return append(env, extra...)
}

// browserFIFO writes a $BROWSER script that hands the URL it is given to
// the test through a FIFO, and returns the script and a function that
// waits for the URL.
func browserFIFO(t *testing.T) (script string, nextURL func() string) {
	t.Helper()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "url.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	script = filepath.Join(dir, "browser.sh")
	body := "#!/bin/sh\nprintf '%s\\n' \"$1\" > '" + fifo + "'\n"
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	// A script still blocked in opening the FIFO (the test failed before
	// reading) is released: its write then fails and it exits.
	t.Cleanup(func() {
		if r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			_ = r.Close()
		}
	})
	return script, func() string {
		t.Helper()
		type res struct {
			url string
			err error
		}
		ch := make(chan res, 1)
		go func() {
			// Opening the read end blocks until the script opens the
			// write end: no polling.
			f, err := os.OpenFile(fifo, os.O_RDONLY, 0)
			if err != nil {
				ch <- res{"", err}
				return
			}
			defer f.Close()
			line, err := bufio.NewReader(f).ReadString('\n')
			ch <- res{strings.TrimSpace(line), err}
		}()
		select {
		case r := <-ch:
			if r.err != nil {
				t.Fatalf("reading the URL $BROWSER got: %v", r.err)
			}
			return r.url
		case <-time.After(30 * time.Second):
			// Unblock the goroutine.
			if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				_ = w.Close()
			}
			t.Fatal("credchain login did not run $BROWSER within 30s")
			return ""
		}
	}
}

// proc is a running credchain child.
type proc struct {
	cmd      *exec.Cmd
	out, err *testenv.SyncBuffer
	stdin    io.WriteCloser
	done     chan struct{}
	code     int
}

func startCLI(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(itest.BuildCredchain(t), args...), out: &testenv.SyncBuffer{}, err: &testenv.SyncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.err
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.stdin.Close()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// runBounded runs credchain to completion (stdin an empty pipe) and fails
// the test if it takes more than a minute, instead of hanging the suite.
func runBounded(t *testing.T, env []string, args ...string) result {
	t.Helper()
	p := startCLI(t, env, args...)
	_ = p.stdin.Close()
	code := p.wait(t, time.Minute)
	return result{p.out.String(), p.err.String(), code}
}

func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("credchain %v did not exit within %v; stderr: %s", p.cmd.Args[1:], timeout, p.err.String())
		return -1
	}
}

// storedRecord reads the oauth record of the plaintext store in dir
// through the cache package, as credchain does.
func storedRecord(t *testing.T, dir string) *resolver.Credential {
	t.Helper()
	c := findRecord(t, dir)
	if c == nil {
		t.Fatalf("no oauth record in the plaintext store %s", dir)
	}
	return c
}

// findRecord returns the stored oauth credential in dir, or nil.
func findRecord(t *testing.T, dir string) *resolver.Credential {
	t.Helper()
	st, err := cache.Open(context.Background(), cache.Options{Backend: "plaintext", Dir: dir})
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	keys, err := st.(cache.Lister).Keys(context.Background())
	if err != nil {
		t.Fatalf("listing the store: %v", err)
	}
	key := ""
	for _, k := range keys {
		if strings.HasPrefix(k, "oauth.") {
			key = k
		}
	}
	if key == "" {
		return nil
	}
	data, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	c, err := resolver.DecodeRecord(data)
	if err != nil {
		t.Fatalf("stored record: %v", err)
	}
	return c
}

// jwtExp reads an access token's exp claim (Dex issues JWTs); the
// signature does not matter here.
func jwtExp(tok string) (time.Time, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, errors.New("the access token is not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, err
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return time.Time{}, err
	}
	return time.Unix(c.Exp, 0), nil
}

// cliLogin runs `credchain login` for user with the plain-HTTP browser.
func cliLogin(t *testing.T, d *itest.Dex, storeDir string, user itest.DexUser) *proc {
	t.Helper()
	script, nextURL := browserFIFO(t)
	p := startCLI(t, loginEnv(t, d, storeDir, script), "login", "--timeout", "1m")
	authURL := nextURL()
	status, body, err := itest.DexBrowserLogin(context.Background(), authURL, user)
	if err != nil || status != http.StatusOK || !strings.Contains(body, "Login complete") {
		t.Fatalf("browser: %d %v %q; credchain stderr: %s", status, err, body, p.err.String())
	}
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("credchain login exited %d; stderr: %s", code, p.err.String())
	}
	return p
}

// TestLoginCommand: `credchain login` opens $BROWSER with an S256 PKCE
// URL, a plain-HTTP browser logs in at Dex, the login lands in the store,
// and `credchain token` serves it.
func TestLoginCommand(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	storeDir := t.TempDir()
	user := d.User(t, "alice")
	p := cliLogin(t, d, storeDir, user)
	if out := p.out.String(); !strings.Contains(out, "Logged in as alice@example.com") || !strings.Contains(out, "expires at") {
		t.Errorf("login output %q", out)
	}
	if !strings.Contains(p.err.String(), "/dex/auth?") {
		t.Errorf("login did not print the URL: %q", p.err.String())
	}
	q := d.Proxy.AuthorizeRequests()
	if len(q) != 1 || q[0].Get("code_challenge_method") != "S256" || q[0].Get("scope") != "openid email offline_access" {
		t.Fatalf("authorize requests %v", q)
	}
	rec := storedRecord(t, storeDir)
	tok := rec.Token.Reveal()
	if tok == "" || rec.Refresh.IsZero() || rec.Meta["email"] != user.Email {
		t.Fatalf("stored record %v meta %v; want token, refresh token and the user", rec, rec.Meta)
	}
	for _, out := range []string{p.out.String(), p.err.String()} {
		if strings.Contains(out, tok) {
			t.Fatal("login printed the access token")
		}
	}
	res := runBounded(t, loginEnv(t, d, storeDir, ""), "token")
	if res.code != 0 || strings.TrimSpace(res.out) != tok {
		t.Fatalf("credchain token: exit %d, stderr %q; want the stored token", res.code, res.err)
	}
	if n := len(d.Proxy.TokenCalls("refresh_token")); n != 0 {
		t.Errorf("refresh calls = %d, want 0", n)
	}
	// status shows the login, masked.
	res = runBounded(t, loginEnv(t, d, storeDir, ""), "status", "--json")
	var st struct {
		Active  *string `json:"active"`
		Sources []struct {
			Name       string            `json:"name"`
			Configured bool              `json:"configured"`
			ExpiresAt  *time.Time        `json:"expires_at"`
			Meta       map[string]string `json:"meta"`
		} `json:"sources"`
	}
	if err := json.Unmarshal([]byte(res.out), &st); err != nil || res.code != 0 {
		t.Fatalf("status --json: exit %d, %v, %q", res.code, err, res.err)
	}
	if st.Active == nil || *st.Active != "oauth" {
		t.Errorf("status active = %v, want oauth", st.Active)
	}
	for _, s := range st.Sources {
		if s.Name == "oauth" && (!s.Configured || s.ExpiresAt == nil || s.Meta["email"] != user.Email) {
			t.Errorf("status of oauth: %+v", s)
		}
	}
	if strings.Contains(res.out, tok) || strings.Contains(res.out, rec.Refresh.Reveal()) {
		t.Error("status shows a secret")
	}
	// Logout removes the login (Dex has no revocation endpoint).
	res = runBounded(t, loginEnv(t, d, storeDir, ""), "logout")
	if res.code != 0 || !strings.Contains(res.out, "oauth") || findRecord(t, storeDir) != nil {
		t.Fatalf("credchain logout: exit %d out %q err %q", res.code, res.out, res.err)
	}
	res = runBounded(t, loginEnv(t, d, storeDir, ""), "token")
	if res.code != 3 || !strings.Contains(res.err, "credchain login") {
		t.Errorf("token after logout: exit %d err %q; want 3 and a hint to log in", res.code, res.err)
	}
}

// TestLoginCommandChromium: the same through a real headless Chromium that
// fills Dex's form and shows credchain's callback page.
func TestLoginCommandChromium(t *testing.T) {
	testenv.Hermetic(t)
	chromium := itest.Chromium(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	storeDir := t.TempDir()
	script, nextURL := browserFIFO(t)
	p := startCLI(t, loginEnv(t, d, storeDir, script), "login")
	text, err := itest.ChromiumDexLogin(context.Background(), chromium, t.TempDir(), nextURL(), d.User(t, "bob"))
	if err != nil || !strings.Contains(text, "Login complete") {
		t.Fatalf("Chromium: %q, %v; credchain stderr: %s", text, err, p.err.String())
	}
	if code := p.wait(t, 30*time.Second); code != 0 || !strings.Contains(p.out.String(), "bob@example.com") {
		t.Fatalf("credchain login: exit %d, out %q, err %q", code, p.out.String(), p.err.String())
	}
	if rec := storedRecord(t, storeDir); rec.Token.IsZero() {
		t.Fatal("no token stored")
	}
}

// TestLoginNonInteractive: with CI set, --non-interactive, or neither a
// terminal nor $BROWSER, login fails at once and opens no browser.
func TestLoginNonInteractive(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	marker := filepath.Join(t.TempDir(), "opened")
	browser := filepath.Join(t.TempDir(), "browser.sh")
	if err := os.WriteFile(browser, []byte("#!/bin/sh\ntouch '"+marker+"'\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		why  string
	}{
		{"CI", []string{"BROWSER=" + browser, "CI=true"}, nil, "CI is set"},
		{"flag", []string{"BROWSER=" + browser}, []string{"--non-interactive"}, "--non-interactive"},
		{"no terminal, no BROWSER", nil, nil, "no terminal and no $BROWSER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// "At once" is observed, not timed: the exit status and
			// message come from the non-interactive check (a login that
			// started would wait for the person, with its default
			// timeout of minutes, until runBounded gives up and fails
			// the test),
			// and nothing of a login happened: no browser, no authorize
			// request, nothing stored.
			storeDir := t.TempDir()
			env := append(loginEnv(t, d, storeDir, ""), tc.env...)
			res := runBounded(t, env, append([]string{"login"}, tc.args...)...)
			if res.code != 1 || !strings.Contains(res.err, "non-interactive") || !strings.Contains(res.err, tc.why) {
				t.Fatalf("exit %d, stderr %q; want 1 and a message saying %q", res.code, res.err, tc.why)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("a browser was opened")
			}
			if n := len(d.Proxy.AuthorizeRequests()); n != 0 {
				t.Errorf("authorize requests = %d, want 0", n)
			}
			if rec := findRecord(t, storeDir); rec != nil {
				t.Errorf("a record was stored: %+v", rec)
			}
		})
	}
	if n := len(d.Proxy.AuthorizeRequests()); n != 0 {
		t.Errorf("authorize requests = %d, want 0", n)
	}
}

// TestLoginCommandTimeout: nobody finishes → exit 1 with the timeout named.
func TestLoginCommandTimeout(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	res := runBounded(t, loginEnv(t, d, t.TempDir(), "true"), "login", "--no-browser", "--timeout", "500ms")
	if res.code != 1 || !strings.Contains(res.err, "timed out") || !strings.Contains(res.err, "--timeout") {
		t.Fatalf("exit %d, stderr %q", res.code, res.err)
	}
}

// TestLoginCommandPaste: redirect=paste with Dex's out-of-band page; the
// code is pasted on stdin.
func TestLoginCommandPaste(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	storeDir := t.TempDir()
	script, nextURL := browserFIFO(t)
	env := loginEnv(t, d, storeDir, script, "CREDCHAIN_OAUTH_REDIRECT=paste", "CREDCHAIN_OAUTH_PASTE_REDIRECT_URI=urn:ietf:wg:oauth:2.0:oob")
	p := startCLI(t, env, "login")
	res, err := itest.DexPasswordLogin(context.Background(), nextURL(), d.User(t, "carol"))
	if err != nil || res.OOBCode == "" {
		t.Fatalf("dex: %v %+v", err, res)
	}
	fmt.Fprintf(p.stdin, "%s\n", res.OOBCode)
	if code := p.wait(t, 30*time.Second); code != 0 || !strings.Contains(p.out.String(), "carol@example.com") {
		t.Fatalf("exit %d out %q err %q", code, p.out.String(), p.err.String())
	}
	if strings.Contains(p.err.String(), res.OOBCode) || strings.Contains(p.out.String(), res.OOBCode) {
		t.Error("credchain printed the code")
	}
}

// TestReusedRefreshTokenExit4: when the stored refresh token has already
// been used elsewhere, `credchain token` after expiry exits 4 (login
// required) and the store keeps the rest of the login.
func TestReusedRefreshTokenExit4(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: 2 * time.Second})
	storeDir := t.TempDir()
	cliLogin(t, d, storeDir, d.User(t, "dave"))
	rec := storedRecord(t, storeDir)
	// Use the stored refresh token behind credchain's back.
	form := strings.NewReader("grant_type=refresh_token&client_id=" + d.ClientID + "&refresh_token=" + url.QueryEscape(rec.Refresh.Reveal()))
	resp, err := http.Post(d.Direct+"/dex/token", "application/x-www-form-urlencoded", form)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh behind credchain's back: %v %v", resp, err)
	}
	resp.Body.Close()
	exp := rec.Expiry
	// Let the access token really expire (Dex's clock is the wall clock;
	// there is nothing to synchronise with).
	time.Sleep(time.Until(exp) + 100*time.Millisecond)
	res := runBounded(t, loginEnv(t, d, storeDir, ""), "token")
	if res.code != 4 || !strings.Contains(res.err, "login") || res.out != "" {
		t.Fatalf("credchain token: exit %d stdout %q stderr %q; want exit 4 (login required)", res.code, res.out, res.err)
	}
	calls := d.Proxy.TokenCalls("refresh_token")
	if len(calls) != 1 || calls[0].Error != "invalid_request" {
		t.Fatalf("refresh calls through the proxy %+v, want one refused with invalid_request", calls)
	}
	// The access token has expired too, so the resolver may drop the
	// whole record; what must not survive is the dead refresh token.
	if after := findRecord(t, storeDir); after != nil {
		if !after.Refresh.IsZero() {
			t.Error("the dead refresh token is still stored")
		}
	}
}

// TestProcessesRefreshOncePerExpiry: 8 processes keep running `credchain
// token` on one login (a plaintext store in a shared directory) through
// several access-token lifetimes with refresh-token rotation on. Every
// token printed is unexpired; the token endpoint sees exactly one refresh
// per new token, never the same refresh token twice, and never refuses one.
func TestProcessesRefreshOncePerExpiry(t *testing.T) {
	testenv.Hermetic(t)
	const ttl = 4 * time.Second // credchain sees expires_in = 3s
	const run = 14 * time.Second
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: ttl})
	storeDir := t.TempDir()
	cliLogin(t, d, storeDir, d.User(t, "erin"))
	first := storedRecord(t, storeDir)
	bin := itest.BuildCredchain(t)
	env := loginEnv(t, d, storeDir, "")

	var mu sync.Mutex
	seen := map[string]bool{first.Token.Reveal(): true}
	var problems []string
	runs := 0
	end := time.Now().Add(run)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				cmd := exec.CommandContext(ctx, bin, "token")
				cmd.Env = env
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				cancel()
				now := time.Now()
				tok := strings.TrimSpace(string(out))
				mu.Lock()
				runs++
				switch exp, perr := jwtExp(tok); {
				case err != nil:
					problems = append(problems, fmt.Sprintf("process %d: %v: %s", i, err, stderr.String()))
				case perr != nil:
					problems = append(problems, fmt.Sprintf("process %d: %v", i, perr))
				case !exp.After(now):
					problems = append(problems, fmt.Sprintf("process %d: printed a token that expired at %v (now %v)", i, exp, now))
				default:
					seen[tok] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	calls := d.Proxy.TokenCalls("refresh_token")
	presented := map[string]bool{}
	for _, c := range calls {
		if c.Status != http.StatusOK || c.Error != "" {
			t.Errorf("refresh call refused: %+v", c)
		}
		if presented[c.RefreshHash] {
			t.Errorf("refresh token %s presented twice", c.RefreshHash)
		}
		presented[c.RefreshHash] = true
	}
	expiries := int(run / (ttl - time.Second))
	t.Logf("%d credchain token runs, %d refresh calls, %d distinct tokens, at most %d expiries", runs, len(calls), len(seen), expiries+1)
	if len(calls) != len(seen)-1 {
		t.Errorf("%d refresh calls for %d new tokens: want exactly one call per new token", len(calls), len(seen)-1)
	}
	if len(calls) < 3 || len(calls) > expiries+1 {
		t.Errorf("%d refresh calls in %v of %v tokens; want one per expiry (3..%d)", len(calls), run, ttl-time.Second, expiries+1)
	}
	if runs < 40 {
		t.Errorf("only %d credchain token runs; the processes did not keep resolving", runs)
	}
	if last := storedRecord(t, storeDir); !seen[last.Token.Reveal()] || last.Refresh.IsZero() {
		t.Error("the store does not hold the newest token with a refresh token")
	}
}
