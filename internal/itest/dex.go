//go:build integration

package itest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/testenv"
)

// dexBinFromEnv and chromiumFromEnv are read once at start-up because
// Hermetic clears every CREDCHAIN_* variable of the test process.
var (
	dexBinFromEnv   = os.Getenv("CREDCHAIN_DEX_BIN")
	chromiumFromEnv = os.Getenv("CREDCHAIN_CHROMIUM")
)

// dexDefaultBin is where .ci/setup.d/30-dex.sh caches the binary.
const dexDefaultBin = "/var/cache/credchain-dex/bin/dex"

// DexBinary returns the path of the Dex binary ($CREDCHAIN_DEX_BIN, else the
// CI cache, else dex on PATH). A missing Dex fails the test.
func DexBinary(t testing.TB) string {
	t.Helper()
	for _, p := range []string{dexBinFromEnv, dexDefaultBin} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
		if p == dexBinFromEnv {
			t.Fatalf("itest: CREDCHAIN_DEX_BIN=%s does not exist; build it with .ci/setup.d/30-dex.sh", p)
		}
	}
	p, err := exec.LookPath("dex")
	if err != nil {
		t.Fatalf("itest: Dex (the OpenID provider these tests log in to) is required and missing: set CREDCHAIN_DEX_BIN or run .ci/setup.d/30-dex.sh (it builds Dex v2.45.1 into %s)", dexDefaultBin)
	}
	return p
}

// DexUser is one of Dex's static password users. Logins revoke the same
// user's earlier refresh token for the same client, so parallel logins use
// different users.
type DexUser struct {
	Name     string
	Email    string // what Dex's login form asks for
	Password string
}

// dexUserNames are the static users every Dex started here has.
var dexUserNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"}

// dexPasswordHash is bcrypt("password"), as in Dex's config.dev.yaml.
const dexPasswordHash = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"

// DexOptions configures StartDex.
type DexOptions struct {
	// TokenTTL is expiry.idTokens, which is also the access-token lifetime
	// (10s when zero). Dex reports expires_in as TTL-1s.
	TokenTTL time.Duration
	// ReuseInterval is expiry.refreshTokens.reuseInterval (0: a replayed
	// refresh token is refused at once).
	ReuseInterval time.Duration
}

// Dex is a running Dex on 127.0.0.1 behind a recording proxy. Issuer is the
// proxy's address, so every endpoint from discovery goes through it.
type Dex struct {
	Issuer   string
	ClientID string
	Proxy    *DexProxy
	// Direct is Dex's own base URL (bypassing the proxy).
	Direct string
	// LogPath is Dex's log file.
	LogPath string
}

// StartDex starts Dex with memory storage, a public client with no
// registered redirect URIs (any loopback port is accepted), rotation on,
// and the static users alice, bob, carol, dave, erin, frank, grace, heidi,
// ivan and judy (password "password"). It is stopped when the test ends.
func StartDex(t testing.TB, opts DexOptions) *Dex {
	t.Helper()
	bin := DexBinary(t)
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 10 * time.Second
	}
	dir := t.TempDir()
	proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("itest: dex proxy listen: %v", err)
	}
	issuer := "http://" + proxyLn.Addr().String() + "/dex"
	dexAddr := "127.0.0.1:" + strconv.Itoa(testenv.DeadPort(t))
	d := &Dex{Issuer: issuer, ClientID: "credchain-cli", Direct: "http://" + dexAddr, LogPath: filepath.Join(dir, "dex.log")}

	var users strings.Builder
	for i, n := range dexUserNames {
		fmt.Fprintf(&users, "  - email: %q\n    hash: %q\n    username: %q\n    name: %q\n    preferredUsername: %q\n    emailVerified: true\n    userID: \"00000000-0000-4000-8000-%012d\"\n",
			n+"@example.com", dexPasswordHash, n, n, n, i+1)
	}
	cfg := fmt.Sprintf(`issuer: %s
storage:
  type: memory
web:
  http: %s
logger:
  level: debug
  format: text
expiry:
  idTokens: %q
  authRequests: "10m"
  refreshTokens:
    disableRotation: false
    reuseInterval: %q
    validIfNotUsedFor: "24h"
    absoluteLifetime: "72h"
oauth2:
  responseTypes: ["code"]
  skipApprovalScreen: true
  alwaysShowLoginScreen: false
staticClients:
  - id: %s
    name: credchain
    public: true
enablePasswordDB: true
staticPasswords:
%s`, issuer, dexAddr, opts.TokenTTL.String(), opts.ReuseInterval.String(), d.ClientID, users.String())
	cfgPath := filepath.Join(dir, "dex.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatalf("itest: %v", err)
	}
	logf, err := os.OpenFile(d.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatalf("itest: %v", err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		t.Fatalf("itest: starting dex %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logf.Close(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			d.dumpLog(t)
		}
	})

	target, _ := url.Parse(d.Direct)
	d.Proxy = newDexProxy(target)
	srv := &http.Server{Handler: d.Proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(proxyLn) }()
	t.Cleanup(func() {
		d.Proxy.close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
	})

	// Dex needs a few hundred milliseconds; poll its discovery document.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := d.checkDiscovery()
		if err == nil {
			break
		}
		select {
		case <-exited:
			d.dumpLog(t)
			t.Fatalf("itest: dex exited during start-up: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			d.dumpLog(t)
			t.Fatalf("itest: dex did not become ready in 30s: %v", err)
		}
		select {
		case <-exited:
		case <-time.After(50 * time.Millisecond):
		}
	}
	d.Proxy.reset()
	return d
}

func (d *Dex) checkDiscovery() error {
	resp, err := http.Get(d.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return fmt.Errorf("discovery: HTTP %d: %w", resp.StatusCode, err)
	}
	if doc.Issuer != d.Issuer {
		return fmt.Errorf("discovery names issuer %q, want %q", doc.Issuer, d.Issuer)
	}
	return nil
}

func (d *Dex) dumpLog(t testing.TB) {
	b, _ := os.ReadFile(d.LogPath)
	if len(b) > 16<<10 {
		b = b[len(b)-16<<10:]
	}
	t.Logf("dex log (tail of %s):\n%s", d.LogPath, b)
}

// User returns the static user of that name (alice, bob, carol, ...).
func (d *Dex) User(t testing.TB, name string) DexUser {
	t.Helper()
	for _, n := range dexUserNames {
		if n == name {
			return DexUser{Name: n, Email: n + "@example.com", Password: "password"}
		}
	}
	t.Fatalf("itest: dex has no user %q (have %v)", name, dexUserNames)
	return DexUser{}
}

// Fault is what the proxy does to refresh_token grants.
type Fault int

// Faults the proxy can inject into refresh_token grants.
const (
	FaultNone    Fault = iota
	Fault500           // 500 {"error":"server_error"}
	Fault429           // 429 with Retry-After
	FaultHang          // never answers (until the client gives up)
	FaultGarbage       // 200 with an HTML page
)

// TokenCall is one request to Dex's token endpoint seen by the proxy.
type TokenCall struct {
	Grant string
	// RefreshHash identifies the refresh token presented (a hash prefix,
	// so logs never show the token).
	RefreshHash string
	// Verifier reports whether a code_verifier was sent.
	Verifier bool
	Status   int
	// Error is the response's "error" field, if any.
	Error    string
	Injected Fault
}

// DexProxy forwards to Dex and records authorize requests and token calls;
// it can inject failures into refresh grants.
type DexProxy struct {
	rp *httputil.ReverseProxy

	mu         sync.Mutex
	calls      []TokenCall
	authorizes []url.Values
	fault      Fault
	retryAfter string
	changed    chan struct{}
	closed     chan struct{}
	closeOnce  sync.Once
}

func newDexProxy(target *url.URL) *DexProxy {
	rp := httputil.NewSingleHostReverseProxy(target)
	// Dex not listening yet (start-up polling) is an expected 502.
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		http.Error(w, "dex proxy: "+err.Error(), http.StatusBadGateway)
	}
	return &DexProxy{rp: rp, changed: make(chan struct{}), closed: make(chan struct{})}
}

func (p *DexProxy) close() { p.closeOnce.Do(func() { close(p.closed) }) }

func (p *DexProxy) reset() {
	p.mu.Lock()
	p.calls, p.authorizes = nil, nil
	p.mu.Unlock()
}

// SetFault makes every following refresh_token grant fail as f
// (FaultNone restores normal service). retryAfter is sent with Fault429.
func (p *DexProxy) SetFault(f Fault, retryAfter string) {
	p.mu.Lock()
	p.fault, p.retryAfter = f, retryAfter
	p.mu.Unlock()
}

// TokenCalls returns the token endpoint calls so far (of one grant type,
// or all when grant is "").
func (p *DexProxy) TokenCalls(grant string) []TokenCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []TokenCall
	for _, c := range p.calls {
		if grant == "" || c.Grant == grant {
			out = append(out, c)
		}
	}
	return out
}

// AuthorizeRequests returns the query of every request to /dex/auth.
func (p *DexProxy) AuthorizeRequests() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]url.Values(nil), p.authorizes...)
}

// WaitTokenCalls waits until cond holds for the recorded token calls, or
// fails the test after timeout.
func (p *DexProxy) WaitTokenCalls(t testing.TB, timeout time.Duration, what string, cond func([]TokenCall) bool) []TokenCall {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		calls := append([]TokenCall(nil), p.calls...)
		ch := p.changed
		p.mu.Unlock()
		if cond(calls) {
			return calls
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("itest: dex proxy: waited %v for %s; token calls: %+v", timeout, what, calls)
		}
	}
}

func (p *DexProxy) record(c TokenCall) {
	p.mu.Lock()
	p.calls = append(p.calls, c)
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// ServeHTTP implements http.Handler.
func (p *DexProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/dex/auth":
		p.mu.Lock()
		p.authorizes = append(p.authorizes, r.URL.Query())
		p.mu.Unlock()
	case r.URL.Path == "/dex/token" && r.Method == http.MethodPost:
		p.token(w, r)
		return
	}
	p.rp.ServeHTTP(w, r)
}

func (p *DexProxy) token(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "proxy: reading request", http.StatusBadGateway)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	call := TokenCall{Grant: form.Get("grant_type"), Verifier: form.Get("code_verifier") != ""}
	if rt := form.Get("refresh_token"); rt != "" {
		sum := sha256.Sum256([]byte(rt))
		call.RefreshHash = hex.EncodeToString(sum[:6])
	}
	p.mu.Lock()
	fault, retryAfter := p.fault, p.retryAfter
	p.mu.Unlock()
	if call.Grant != "refresh_token" {
		fault = FaultNone
	}
	call.Injected = fault
	switch fault {
	case Fault500:
		call.Status, call.Error = http.StatusInternalServerError, "server_error"
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(call.Status)
		_, _ = io.WriteString(w, `{"error":"server_error","error_description":"injected by the test proxy"}`)
	case Fault429:
		call.Status = http.StatusTooManyRequests
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(call.Status)
		_, _ = io.WriteString(w, `{"error":"slow_down"}`)
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-p.closed:
		}
	case FaultGarbage:
		call.Status = http.StatusOK
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(call.Status)
		_, _ = io.WriteString(w, "<html><body>Service temporarily replaced by a cat</body></html>")
	default:
		rw := &recordingWriter{ResponseWriter: w}
		p.rp.ServeHTTP(rw, r)
		call.Status = rw.status
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(rw.body.Bytes(), &e) == nil {
			call.Error = e.Error
		}
	}
	p.record(call)
}

type recordingWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *recordingWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body.Len() < 8<<10 {
		w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// DexLoginResult is where Dex sent the browser after a password login.
type DexLoginResult struct {
	// Redirect is the client's redirect URI with code and state (or error).
	Redirect *url.URL
	// OOBCode is the code Dex showed on its page for the out-of-band
	// redirect URI.
	OOBCode string
}

var oobCode = regexp.MustCompile(`value="([^"]+)"`)

// DexPasswordLogin drives Dex's login with plain HTTP, as a browser would,
// without following the final redirect to the client: GET the authorize
// URL (→ /dex/auth/local/login), POST the password form, and return the
// redirect to the client (or the out-of-band code).
func DexPasswordLogin(ctx context.Context, authURL string, u DexUser) (*DexLoginResult, error) {
	start, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	client := &http.Client{
		Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != start.Host || len(via) > 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	leftDex := func(resp *http.Response) (*DexLoginResult, bool, error) {
		if resp.StatusCode/100 != 3 {
			return nil, false, nil
		}
		loc, err := resp.Location()
		if err != nil {
			return nil, true, fmt.Errorf("dex login: redirect without a location: %w", err)
		}
		return &DexLoginResult{Redirect: loc}, true, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("dex login: GET authorize: %w", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if res, ok, err := leftDex(resp); ok {
		return res, err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte(`name="password"`)) {
		return nil, fmt.Errorf("dex login: expected the password form at %s, got HTTP %d: %.300s", resp.Request.URL.Path, resp.StatusCode, page)
	}
	form := url.Values{"login": {u.Email}, "password": {u.Password}}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, resp.Request.URL.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("dex login: POST password: %w", err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if res, ok, err := leftDex(resp); ok {
		return res, err
	}
	if resp.StatusCode == http.StatusOK {
		if m := oobCode.FindSubmatch(page); m != nil {
			return &DexLoginResult{OOBCode: string(m[1])}, nil
		}
	}
	return nil, fmt.Errorf("dex login: password POST answered HTTP %d at %s: %.300s", resp.StatusCode, resp.Request.URL.Path, page)
}

// DexBrowserLogin is DexPasswordLogin followed by the browser's last step:
// a GET of the redirect to the client's loopback listener. It returns that
// page's status and body.
func DexBrowserLogin(ctx context.Context, authURL string, u DexUser) (status int, body string, err error) {
	res, err := DexPasswordLogin(ctx, authURL, u)
	if err != nil {
		return 0, "", err
	}
	if res.Redirect == nil {
		return 0, "", errors.New("dex login: Dex showed a code page instead of redirecting")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, res.Redirect.String(), nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("dex login: following the redirect to the client: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
