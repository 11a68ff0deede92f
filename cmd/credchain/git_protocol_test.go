//go:build linux && integration

package main

import (
	"bytes"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
)

// gitServer is git's smart HTTP (git http-backend under net/http/cgi) behind
// Basic auth that takes, as the password, a Google token the fake issued
// and the test has not revoked.
type gitServer struct {
	*httptest.Server
	mu      sync.Mutex
	revoked map[string]bool
	seen    []string // passwords of accepted requests
	refused int
}

func newGitServer(t *testing.T, gitPath, root string, fake *testenv.GoogleFake) *gitServer {
	t.Helper()
	backend := &cgi.Handler{
		Path:       gitPath,
		Args:       []string{"http-backend"},
		Env:        []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
		InheritEnv: []string{"PATH"},
	}
	g := &gitServer{revoked: map[string]bool{}}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pass, ok := r.BasicAuth()
		g.mu.Lock()
		good := ok && fake.IsIssued(pass, testenv.GrantJWTBearer) && !g.revoked[pass]
		if good {
			g.seen = append(g.seen, pass)
		} else if ok {
			g.refused++
		}
		g.mu.Unlock()
		if !good {
			w.Header().Set("WWW-Authenticate", `Basic realm="credchain-test"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *gitServer) revoke(tok string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.revoked[tok] = true
}

// passwords returns the distinct passwords accepted so far, in order.
func (g *gitServer) passwords() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, p := range g.seen {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// TestGitCredentialHelper: git 2.39 with credchain as its credential helper,
// against git http-backend requiring the token. The token is a Google
// access token of source vertex (the Google fake), kept in a store shared by
// every credchain process: git credential fill and a clone use the same
// token (one token request); once the server refuses it, git calls erase,
// credchain refreshes, and the next fetch's get returns the new token.
func TestGitCredentialHelper(t *testing.T) {
	testenv.Hermetic(t)
	if !inNetns(t, nil) {
		return
	}
	gitPath := itest.RequireCommand(t, "git", "apt-get install git (.ci/setup.d/50-clients.sh)")
	bin := credchainBin(t)
	rec := newArgvRecorder(t, bin)
	fake := testenv.NewGoogleFake(t)
	dir := t.TempDir()
	sa := writeFile(t, dir, "sa.json", string(fake.ServiceAccountJSON()), 0o600)

	// A bare repository with one commit, served by git http-backend.
	root := filepath.Join(dir, "srv")
	home := filepath.Join(dir, "home")
	for _, d := range []string{root, home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	baseEnv := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test",
	}
	git := func(t *testing.T, env []string, stdin string, args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.Command(gitPath, args...)
		cmd.Env = env
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	mustGit := func(args ...string) {
		t.Helper()
		if _, stderr, err := git(t, baseEnv, "", args...); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
	}
	mustGit("init", "-q", "--bare", filepath.Join(root, "repo.git"))
	mustGit("init", "-q", filepath.Join(dir, "work"))
	if err := os.WriteFile(filepath.Join(dir, "work", "README"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit("-C", "work", "add", "README")
	mustGit("-C", "work", "commit", "-q", "-m", "first")
	mustGit("-C", "work", "push", "-q", filepath.Join(root, "repo.git"), "HEAD:refs/heads/main")
	mustGit("--git-dir", filepath.Join(root, "repo.git"), "symbolic-ref", "HEAD", "refs/heads/main")

	srv := newGitServer(t, gitPath, root, fake)
	u, _ := url.Parse(srv.URL)
	host := u.Host
	env := append(slices.Clone(baseEnv),
		"CI=true", "DBUS_SESSION_BUS_ADDRESS=disabled:",
		"CREDCHAIN_STORE_BACKEND=plaintext", "CREDCHAIN_STORE_DIR="+filepath.Join(dir, "store"),
		"CREDCHAIN_GIT_HOSTS=git.example.test,"+host,
		"CLAUDE_CODE_USE_VERTEX=1", "GOOGLE_APPLICATION_CREDENTIALS="+sa, "CLOUD_ML_REGION=europe-west4",
		"GCE_METADATA_HOST=127.0.0.1:"+strconv.Itoa(testenv.DeadPort(t)), "AWS_EC2_METADATA_DISABLED=true",
	)
	helper := []string{"-c", "credential.helper=", "-c", "credential.helper=!'" + rec.path + "' git-credential"}
	tokenCalls := func() int { return fake.Calls(testenv.GrantJWTBearer) }

	// 1. git credential fill asks credchain.
	out, stderr, err := git(t, env, "protocol=http\nhost="+host+"\npath=repo.git\n\n", append(helper, "credential", "fill")...)
	if err != nil {
		t.Fatalf("git credential fill: %v\n%s", err, stderr)
	}
	fill := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		fill[k] = v
	}
	tokA := fill["password"]
	if !fake.IsIssued(tokA, testenv.GrantJWTBearer) || fill["username"] != "credchain" || fill["host"] != host {
		t.Fatalf("git credential fill gave %q, want username credchain and a token the fake issued", out)
	}

	// 2. A clone over HTTP: the same token, from the shared store.
	if _, stderr, err := git(t, env, "", append(helper, "clone", "-q", srv.URL+"/repo.git", "clone")...); err != nil {
		t.Fatalf("git clone: %v\n%s", err, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "clone", "README")); err != nil || string(b) != "hello\n" {
		t.Fatalf("the clone has README %q (%v)", b, err)
	}
	if got := srv.passwords(); !slices.Equal(got, []string{tokA}) || tokenCalls() != 1 {
		t.Fatalf("the server accepted %d distinct passwords (want just the filled token), the fake issued %d tokens (want 1)", len(got), tokenCalls())
	}

	// 3. The server stops accepting it: git erases it, credchain refreshes.
	srv.revoke(tokA)
	if _, stderr, err := git(t, env, "", append(helper, "-C", "clone", "fetch", "-q")...); err == nil || !strings.Contains(stderr, "Authentication failed") {
		t.Fatalf("git fetch with a revoked token: %v, stderr %s; want Authentication failed", err, stderr)
	}
	if !slices.ContainsFunc(rec.calls(t), func(c string) bool { return strings.HasSuffix(c, "git-credential erase") }) {
		t.Fatalf("git never called credchain git-credential erase; calls: %q", rec.calls(t))
	}
	if tokenCalls() != 2 {
		t.Fatalf("after erase the fake issued %d tokens in all, want 2 (erase refreshes)", tokenCalls())
	}

	// 4. The next process's get returns the refreshed token.
	if _, stderr, err := git(t, env, "", append(helper, "-C", "clone", "fetch", "-q")...); err != nil {
		t.Fatalf("git fetch after erase: %v\n%s", err, stderr)
	}
	got := srv.passwords()
	if len(got) != 2 || got[1] == tokA || !fake.IsIssued(got[1], testenv.GrantJWTBearer) || tokenCalls() != 2 {
		t.Fatalf("after erase the server accepted %d distinct tokens and the fake issued %d; want the refreshed token read from the store (2 and 2)", len(got), tokenCalls())
	}

	// 5. Hosts and protocols credchain does not answer for.
	for _, tc := range []struct{ name, req, want string }{
		{"host not in git.hosts", "protocol=https\nhost=other.example.test\n\n", ""},
		{"same host, other port", "protocol=http\nhost=127.0.0.1:1\n\n", ""},
		{"plain http to a remote host", "protocol=http\nhost=git.example.test\n\n", ""},
		{"ssh", "protocol=ssh\nhost=git.example.test\n\n", ""},
		{"https to a listed host", "protocol=https\nhost=git.example.test\nusername=me\n\n", "username=me\npassword=" + got[1] + "\n"},
	} {
		res := runStdin(t, rec.path, env, tc.req, "git-credential", "get")
		if res.code != 0 || !strings.HasPrefix(res.out, tc.want) || (tc.want == "" && res.out != "") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q", tc.name, res.code, res.out, res.err, tc.want)
		}
	}
	rec.checkNoSecret(t, tokA, got[1])
	fake.Check(t)
}
